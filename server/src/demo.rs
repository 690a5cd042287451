//! Demo data (`huigong seed-demo`, `huigong serve --demo`): real union names so the app
//! looks like something on first start. Idempotent: running it twice changes nothing.

use diesel::QueryResult;

use crate::auth::password::hash_password;
use crate::auth::store::{self, NewRole, NewUser};
use crate::clock::Clock;
use crate::db::{DbConn, write_tx};
use crate::domain::OrgId;
use crate::orgs::rules::OrgKind;
use crate::orgs::store::{NewOrg, insert_org, org_by_name};

/// The demo console login, printed by the CLI and in the README. Demo data only.
pub const DEMO_ADMIN_USERNAME: &str = "demo-admin";
pub const DEMO_ADMIN_PASSWORD: &str = "huigong-demo-2026";

struct SeedOrg {
    name: &'static str,
    kind: OrgKind,
    region: &'static str,
    children: &'static [(&'static str, OrgKind)],
}

const ORGS: &[SeedOrg] = &[
    SeedOrg {
        name: "诸城市总工会",
        kind: OrgKind::Federation,
        region: "370782",
        children: &[("诸城市快递物流行业工会联合会", OrgKind::Joint)],
    },
    SeedOrg {
        name: "乐陵市总工会",
        kind: OrgKind::Federation,
        region: "371481",
        children: &[
            ("乐陵市新就业形态劳动者联合工会", OrgKind::Joint),
            ("乐陵市市场监督管理局工会", OrgKind::Grassroots),
            ("乐陵市人民医院工会", OrgKind::Grassroots),
            ("乐陵市建筑业工会", OrgKind::Industry),
        ],
    },
    SeedOrg {
        name: "金华市金东区总工会",
        kind: OrgKind::District,
        region: "330703",
        children: &[("金东区外卖配送员联合工会", OrgKind::Joint)],
    },
    SeedOrg {
        name: "嘉定区总工会",
        kind: OrgKind::District,
        region: "310114",
        children: &[("嘉定区网约车司机工会", OrgKind::Joint)],
    },
    SeedOrg {
        name: "舟山市总工会",
        kind: OrgKind::Federation,
        region: "330900",
        children: &[("舟山市货车司机联合工会", OrgKind::Joint)],
    },
];

#[derive(Debug, Default)]
pub struct Seeded {
    pub orgs_created: usize,
    pub admin_created: bool,
}

fn ensure_org(
    conn: &mut DbConn,
    clock: &dyn Clock,
    parent: Option<OrgId>,
    name: &str,
    kind: OrgKind,
    region: &str,
    seeded: &mut Seeded,
) -> QueryResult<OrgId> {
    if let Some(org) = org_by_name(conn, parent, name)? {
        return Ok(OrgId(org.id));
    }
    seeded.orgs_created += 1;
    let new = NewOrg {
        name: name.to_owned(),
        kind: kind.as_str(),
        parent_id: parent,
        region_code: region.to_owned(),
        created_at: clock.now_naive(),
    };
    insert_org(conn, &new).map(|o| OrgId(o.id))
}

pub fn seed(conn: &mut DbConn, clock: &dyn Clock) -> QueryResult<Seeded> {
    let mut seeded = Seeded::default();
    for org in ORGS {
        let id = ensure_org(
            conn,
            clock,
            None,
            org.name,
            org.kind,
            org.region,
            &mut seeded,
        )?;
        for (child, kind) in org.children {
            ensure_org(conn, clock, Some(id), child, *kind, org.region, &mut seeded)?;
        }
    }
    if store::user_by_username(conn, DEMO_ADMIN_USERNAME)?.is_none() {
        let hash = hash_password(DEMO_ADMIN_PASSWORD)
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
        let now = clock.now_naive();
        write_tx(conn, |c| {
            let id = store::insert_user(
                c,
                &NewUser {
                    nickname: "演示管理员",
                    phone: None,
                    wechat_openid: None,
                    username: Some(DEMO_ADMIN_USERNAME),
                    password_hash: Some(&hash),
                    created_at: now,
                    updated_at: now,
                },
            )?;
            store::grant_role(
                c,
                &NewRole {
                    user_id: id.0,
                    role: "platform_admin",
                    org_id: None,
                    granted_by: None,
                    created_at: now,
                },
            )
        })?;
        seeded.admin_created = true;
    }
    Ok(seeded)
}
