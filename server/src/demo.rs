//! Demo data (`huigong seed-demo`, `huigong serve --demo`): real union names so the app
//! looks like something on first start. Idempotent: running it twice changes nothing.

use diesel::QueryResult;

use crate::auth::password::hash_password;
use crate::auth::store::{self, NewUser};
use crate::clock::Clock;
use crate::crypto::DataKeys;
use crate::db::DbConn;
use crate::domain::{OrgId, UserId};
use crate::enrollment::rules::{EmploymentForm, mask_id_number, synthetic_id};
use crate::enrollment::store::{self as enrollment_store, NewEnrollment};
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
    pub members_created: usize,
    pub quiz_created: bool,
    pub reading_created: bool,
    pub jobs_created: usize,
    pub activities_created: usize,
    pub stations_created: usize,
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

pub fn seed(conn: &mut DbConn, clock: &dyn Clock, crypto: &DataKeys) -> QueryResult<Seeded> {
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
        store::create_staff(conn, DEMO_ADMIN_USERNAME, "演示管理员", &hash, true, now)?;
        seeded.admin_created = true;
    }
    seed_members(conn, clock, crypto, &mut seeded)?;
    seed_quiz(conn, clock, &mut seeded)?;
    seed_reading(conn, clock, &mut seeded)?;
    seed_jobs(conn, clock, &mut seeded)?;
    seed_volunteering(conn, clock, &mut seeded)?;
    if let Some(admin) = store::user_by_username(conn, DEMO_ADMIN_USERNAME)? {
        seeded.stations_created = crate::demo_stations::seed(conn, clock, admin.id)?;
    }
    Ok(seeded)
}

/// (title, address, days from seeding, capacity)
const ACTIVITIES: &[(&str, &str, i64, i32)] = &[
    ("文明交通劝导志愿服务", "乐陵市人民广场路口", -20, 12),
    ("工人文化宫图书整理", "乐陵市工人文化宫", -12, 8),
    ("敬老院慰问演出", "乐陵市社会福利中心", -5, 20),
    ("户外劳动者驿站清洁日", "乐陵市城区户外劳动者服务站", 3, 10),
    ("金丝小枣采摘助农", "乐陵市朱集镇枣林", 9, 30),
];

/// Activities of 乐陵市总工会 (three past, with the demo members' credited hours; two upcoming).
fn seed_volunteering(conn: &mut DbConn, clock: &dyn Clock, seeded: &mut Seeded) -> QueryResult<()> {
    use crate::volunteering::store as vol;
    let (Some(org), Some(admin)) = (
        org_by_name(conn, None, "乐陵市总工会")?,
        store::user_by_username(conn, DEMO_ADMIN_USERNAME)?,
    ) else {
        return Ok(());
    };
    let now = clock.now_naive();
    if !vol::list(conn, vol::When::Past, now, None, 1)?.is_empty()
        || !vol::list(conn, vol::When::Upcoming, now, None, 1)?.is_empty()
    {
        return Ok(());
    }
    // 乐陵市工人文化宫, GCJ-02.
    let (lat, lng) = (37.7297, 117.2317);
    for (title, address, days, capacity) in ACTIVITIES {
        let starts = (now + chrono::TimeDelta::days(*days))
            .date()
            .and_hms_opt(1, 0, 0)
            .unwrap_or(now);
        let activity = vol::insert_activity(
            conn,
            &vol::NewActivity {
                org_id: org.id,
                title: (*title).to_owned(),
                description: "乐陵市总工会职工志愿服务队活动，请按时签到签退。".to_owned(),
                address: (*address).to_owned(),
                lat,
                lng,
                starts_at: starts,
                ends_at: starts + chrono::TimeDelta::hours(3),
                capacity: *capacity,
                signup_deadline: starts - chrono::TimeDelta::hours(12),
                code_secret: hex::encode(rand::random::<[u8; 16]>()),
                created_by: admin.id,
                created_at: now,
            },
        )?;
        if *days >= 0 {
            continue;
        }
        for (i, (_, _, suffix, ..)) in MEMBERS.iter().enumerate().take(6) {
            let Some(user) = store::id_by_phone(conn, &format!("1990000{suffix}"))? else {
                continue;
            };
            vol::sign_up(
                conn,
                activity.id,
                UserId(user),
                false,
                starts - chrono::TimeDelta::days(1),
            )?;
            let minutes = 180 - (i as i32 % 3) * 20;
            vol::correct(
                conn,
                activity.id,
                UserId(user),
                minutes,
                "组织者按签到记录认定",
                UserId(admin.id),
                starts + chrono::TimeDelta::hours(3),
            )?;
        }
    }
    seeded.activities_created = ACTIVITIES.len();
    Ok(())
}

/// (title, employer, category, district, salary range, headcount, type)
type DemoJob = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i32, i32),
    i32,
    &'static str,
);

const JOBS: &[DemoJob] = &[
    (
        "快递分拣员",
        "中通快递乐陵网点",
        "物流",
        "乐陵市",
        (4200, 6000),
        10,
        "full_time",
    ),
    (
        "快递派送员",
        "圆通速递乐陵分公司",
        "物流",
        "乐陵市",
        (5000, 8000),
        8,
        "full_time",
    ),
    (
        "外卖骑手",
        "美团乐陵站",
        "零工",
        "乐陵市",
        (5000, 9000),
        30,
        "gig",
    ),
    (
        "外卖骑手（兼职）",
        "饿了么乐陵站",
        "零工",
        "乐陵市",
        (2000, 4000),
        20,
        "part_time",
    ),
    (
        "仓库管理员",
        "京东物流德州仓",
        "物流",
        "德城区",
        (4500, 6000),
        4,
        "full_time",
    ),
    (
        "叉车司机",
        "德州华鲁物流园",
        "物流",
        "德城区",
        (6000, 8000),
        3,
        "full_time",
    ),
    (
        "冷链货车司机",
        "乐陵金丝小枣冷链运输",
        "物流",
        "乐陵市",
        (8000, 12000),
        5,
        "full_time",
    ),
    (
        "普工",
        "乐陵市泰山体育器材厂",
        "制造",
        "乐陵市",
        (4000, 5500),
        40,
        "full_time",
    ),
    (
        "焊工",
        "乐陵市钢构有限公司",
        "制造",
        "乐陵市",
        (6500, 9000),
        6,
        "full_time",
    ),
    (
        "数控车床操作工",
        "德州恒丰机械",
        "制造",
        "德城区",
        (6000, 8500),
        8,
        "full_time",
    ),
    (
        "质检员",
        "乐陵调味品产业园",
        "制造",
        "乐陵市",
        (4200, 5200),
        5,
        "full_time",
    ),
    (
        "包装工",
        "乐陵金丝小枣加工厂",
        "制造",
        "乐陵市",
        (3600, 4800),
        25,
        "full_time",
    ),
    (
        "电工",
        "德州经济技术开发区物业公司",
        "制造",
        "德城区",
        (5500, 7000),
        2,
        "full_time",
    ),
    (
        "纺织挡车工",
        "德州华源生态科技",
        "制造",
        "德城区",
        (4500, 6500),
        30,
        "full_time",
    ),
    (
        "汽车装配工",
        "德州富路汽车",
        "制造",
        "陵城区",
        (5000, 7000),
        50,
        "full_time",
    ),
    (
        "网约车司机",
        "滴滴出行德州分公司",
        "零工",
        "德城区",
        (6000, 12000),
        40,
        "gig",
    ),
    (
        "代驾司机",
        "e代驾德州站",
        "零工",
        "德城区",
        (4000, 9000),
        15,
        "gig",
    ),
    (
        "同城配送员",
        "闪送德州站",
        "零工",
        "德城区",
        (5000, 8000),
        12,
        "gig",
    ),
    (
        "家政服务员",
        "乐陵市巾帼家政",
        "服务",
        "乐陵市",
        (4000, 6500),
        15,
        "full_time",
    ),
    (
        "育婴员",
        "德州爱心月嫂中心",
        "服务",
        "德城区",
        (6000, 9000),
        10,
        "full_time",
    ),
    (
        "养老护理员",
        "乐陵市社会福利中心",
        "服务",
        "乐陵市",
        (4000, 5500),
        8,
        "full_time",
    ),
    (
        "超市理货员",
        "乐陵银座购物广场",
        "服务",
        "乐陵市",
        (3200, 4200),
        6,
        "full_time",
    ),
    (
        "收银员（兼职）",
        "德州百货大楼",
        "服务",
        "德城区",
        (1800, 2600),
        8,
        "part_time",
    ),
    (
        "餐厅服务员",
        "乐陵枣乡人家酒楼",
        "服务",
        "乐陵市",
        (3500, 4500),
        6,
        "full_time",
    ),
    (
        "厨师",
        "德州扒鸡总店",
        "服务",
        "德城区",
        (6000, 9000),
        3,
        "full_time",
    ),
    (
        "保安",
        "乐陵市城市物业服务中心",
        "服务",
        "乐陵市",
        (3000, 3800),
        10,
        "full_time",
    ),
    (
        "保洁员",
        "德州市环卫服务公司",
        "服务",
        "德城区",
        (2800, 3500),
        20,
        "full_time",
    ),
    (
        "建筑木工",
        "乐陵市第二建筑公司",
        "建筑",
        "乐陵市",
        (7000, 10000),
        12,
        "full_time",
    ),
    (
        "钢筋工",
        "德州城建集团",
        "建筑",
        "德城区",
        (7000, 9500),
        15,
        "full_time",
    ),
    (
        "装修水电工",
        "乐陵美家装饰",
        "建筑",
        "乐陵市",
        (6000, 9000),
        4,
        "full_time",
    ),
    (
        "电商客服",
        "乐陵小枣电商产业园",
        "服务",
        "乐陵市",
        (3500, 5000),
        10,
        "full_time",
    ),
    (
        "直播带货助理（兼职）",
        "乐陵农产品直播基地",
        "服务",
        "乐陵市",
        (2000, 4000),
        5,
        "part_time",
    ),
    (
        "农机驾驶员（季节工）",
        "乐陵市农机合作社",
        "零工",
        "乐陵市",
        (6000, 8000),
        6,
        "gig",
    ),
];

/// 33 published postings of 乐陵市总工会's spring job fair, valid for 45 days.
fn seed_jobs(conn: &mut DbConn, clock: &dyn Clock, seeded: &mut Seeded) -> QueryResult<()> {
    use crate::jobs::store as jobs;
    use diesel::prelude::*;
    let (Some(org), Some(admin)) = (
        org_by_name(conn, None, "乐陵市总工会")?,
        store::user_by_username(conn, DEMO_ADMIN_USERNAME)?,
    ) else {
        return Ok(());
    };
    let exists: bool = diesel::select(diesel::dsl::exists(
        crate::db::schema::job_postings::table
            .filter(crate::db::schema::job_postings::org_id.eq(org.id)),
    ))
    .get_result(conn)?;
    if exists {
        return Ok(());
    }
    let now = clock.now_naive();
    for (i, (title, employer, category, district, (min, max), headcount, kind)) in
        JOBS.iter().enumerate()
    {
        let kind = match *kind {
            "gig" => "gig",
            "part_time" => "part_time",
            _ => "full_time",
        };
        let posting = jobs::insert_posting(
            conn,
            &jobs::NewPosting {
                org_id: org.id,
                title: (*title).to_owned(),
                employer: (*employer).to_owned(),
                category: (*category).to_owned(),
                district: (*district).to_owned(),
                address: format!("{district}{employer}"),
                lat: None,
                lng: None,
                salary_min: *min,
                salary_max: *max,
                headcount: *headcount,
                employment_type: kind,
                description: "春风行动专场岗位，签订劳动合同，依法缴纳社会保险。".to_owned(),
                contact_phone: format!("0534-62{:05}", 10_000 + i),
                valid_until: now + chrono::TimeDelta::days(45),
                status: "draft",
                created_by: admin.id,
                created_at: now,
            },
        )?;
        // Spread publication over the last hours so "newest" has an order.
        jobs::publish(
            conn,
            posting.id,
            now + chrono::TimeDelta::days(45),
            now - chrono::TimeDelta::minutes(i as i64 * 7),
        )?;
        seeded.jobs_created += 1;
    }
    Ok(())
}

const READING_TITLE: &str = "书香工汇·21 天读书打卡";
const BOOKS: &[&str] = &[
    "平凡的世界",
    "人世间",
    "活着",
    "红岩",
    "钢铁是怎样炼成的",
    "苏东坡传",
];

/// A 21-day campaign in 舟山市总工会 around the seeding day, with the demo members'
/// check-ins on the days already past.
fn seed_reading(conn: &mut DbConn, clock: &dyn Clock, seeded: &mut Seeded) -> QueryResult<()> {
    use crate::reading::store as reading;
    let (Some(org), Some(admin)) = (
        org_by_name(conn, None, "舟山市总工会")?,
        store::user_by_username(conn, DEMO_ADMIN_USERNAME)?,
    ) else {
        return Ok(());
    };
    if reading::campaign_by_title(conn, org.id, READING_TITLE)?.is_some() {
        return Ok(());
    }
    let now = clock.now();
    let today = crate::reading::rules::local_date(now, chrono_tz::Asia::Shanghai);
    let first = today - chrono::TimeDelta::days(10);
    let campaign = reading::insert_campaign(
        conn,
        &reading::NewCampaign {
            org_id: org.id,
            title: READING_TITLE.to_owned(),
            description: "每天阅读 15 分钟以上并写下心得，坚持 21 天即可参加结营抽签。".to_owned(),
            starts_on: first.to_string(),
            ends_on: (first + chrono::TimeDelta::days(20)).to_string(),
            target_days: 21,
            time_zone: "Asia/Shanghai".to_owned(),
            makeup_cards: 2,
            min_note_chars: 10,
            min_minutes: 15,
            created_by: admin.id,
            created_at: now.naive_utc(),
        },
    )?;
    for (i, (_, name, suffix, ..)) in MEMBERS.iter().enumerate() {
        let Some(user) = store::id_by_phone(conn, &format!("1990000{suffix}"))? else {
            continue;
        };
        reading::join(conn, campaign.id, UserId(user), now.naive_utc())?;
        // Member i reads on most past days, skipping every (i + 2)th.
        for day in 0..10 {
            if (day + 1) % (i as i64 + 2) == 0 {
                continue;
            }
            let day_text = (first + chrono::TimeDelta::days(day)).to_string();
            let note = format!(
                "{name}：今天读了《{}》，记下几句喜欢的话。",
                BOOKS[(i + day as usize) % BOOKS.len()]
            );
            reading::check_in(
                conn,
                &reading::NewCheckin {
                    campaign_id: campaign.id,
                    user: UserId(user),
                    day: &day_text,
                    book_title: BOOKS[(i + day as usize) % BOOKS.len()],
                    minutes: 20 + (day as i32 % 4) * 10,
                    note: &note,
                    makeup: false,
                    now: now.naive_utc(),
                },
                0,
            )?;
        }
    }
    seeded.reading_created = true;
    Ok(())
}

/// A published 普法 quiz in 乐陵市总工会, open to everyone for 60 days from seeding.
fn seed_quiz(conn: &mut DbConn, clock: &dyn Clock, seeded: &mut Seeded) -> QueryResult<()> {
    use crate::db::schema::quizzes;
    use diesel::prelude::*;
    let exists: bool = diesel::select(diesel::dsl::exists(
        quizzes::table.filter(quizzes::title.eq(crate::demo_quiz::TITLE)),
    ))
    .get_result(conn)?;
    let (Some(org), Some(admin)) = (
        org_by_name(conn, None, "乐陵市总工会")?,
        store::user_by_username(conn, DEMO_ADMIN_USERNAME)?,
    ) else {
        return Ok(());
    };
    if exists {
        return Ok(());
    }
    let now = clock.now_naive();
    let quiz = crate::quizzes::store::insert_quiz(
        conn,
        &crate::quizzes::store::NewQuiz {
            org_id: org.id,
            title: crate::demo_quiz::TITLE.to_owned(),
            description:
                "学习《劳动合同法》《工会法》，每次随机 5 题，答对 3 题即可获得 1 次抽奖机会。"
                    .to_owned(),
            starts_at: now - chrono::TimeDelta::days(1),
            ends_at: now + chrono::TimeDelta::days(60),
            time_zone: "Asia/Shanghai".to_owned(),
            questions_per_attempt: 5,
            time_limit_secs: 300,
            pass_score: 60,
            max_attempts_per_day: 3,
            draws_per_pass: 1,
            audience: "everyone",
            status: "draft",
            created_by: admin.id,
            created_at: now,
        },
    )?;
    crate::quizzes::store::add_questions(conn, quiz.id, &crate::demo_quiz::questions(), now)?;
    use crate::draws::rules::{NewPrize, PrizeKind};
    // 1% + 5% + 20% + 30%: 56% of draws win something, the rest is 谢谢参与.
    for (name, kind, quantity, probability_ppm, max_per_user) in [
        ("工会定制保温杯", PrizeKind::Physical, 50, 10_000, 1),
        ("电影兑换券", PrizeKind::Voucher, 200, 50_000, 1),
        ("话费券 10 元", PrizeKind::Voucher, 500, 200_000, 2),
        ("惠工积分 50", PrizeKind::Points, 5_000, 300_000, 10),
    ] {
        let prize = NewPrize {
            name: name.to_owned(),
            kind,
            quantity,
            probability_ppm,
            max_per_user,
        };
        crate::draws::store::insert_prize(conn, quiz.id, &prize, now)?;
    }
    crate::quizzes::store::publish(conn, quiz.id, now)?;
    seeded.quiz_created = true;
    Ok(())
}

/// (union, name, phone suffix, region, birth date, employment form, occupation, employer, approved)
type DemoMember = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    EmploymentForm,
    &'static str,
    &'static str,
    bool,
);

const MEMBERS: &[DemoMember] = &[
    (
        "乐陵市新就业形态劳动者联合工会",
        "王建国",
        "0001",
        "371481",
        "19880312",
        EmploymentForm::FoodDelivery,
        "外卖骑手",
        "美团乐陵站",
        true,
    ),
    (
        "乐陵市新就业形态劳动者联合工会",
        "李秀英",
        "0002",
        "371481",
        "19920507",
        EmploymentForm::Courier,
        "快递员",
        "中通快递乐陵网点",
        true,
    ),
    (
        "乐陵市新就业形态劳动者联合工会",
        "赵磊",
        "0003",
        "371481",
        "20010919",
        EmploymentForm::RideHailing,
        "网约车司机",
        "滴滴出行",
        false,
    ),
    (
        "乐陵市人民医院工会",
        "刘芳",
        "0004",
        "371481",
        "19851124",
        EmploymentForm::Standard,
        "护士",
        "乐陵市人民医院",
        true,
    ),
    (
        "乐陵市建筑业工会",
        "张伟",
        "0005",
        "371481",
        "19790101",
        EmploymentForm::Standard,
        "钢筋工",
        "乐陵市第二建筑公司",
        false,
    ),
    (
        "诸城市快递物流行业工会联合会",
        "孙丽",
        "0006",
        "370782",
        "19950630",
        EmploymentForm::Courier,
        "快递员",
        "顺丰速运诸城营业部",
        true,
    ),
    (
        "金东区外卖配送员联合工会",
        "阿依古丽·买买提",
        "0007",
        "330703",
        "19970214",
        EmploymentForm::FoodDelivery,
        "外卖骑手",
        "饿了么金东站",
        true,
    ),
    (
        "嘉定区网约车司机工会",
        "陈志强",
        "0008",
        "310114",
        "19830808",
        EmploymentForm::RideHailing,
        "网约车司机",
        "曹操出行",
        false,
    ),
    (
        "舟山市货车司机联合工会",
        "周海涛",
        "0009",
        "330900",
        "19760521",
        EmploymentForm::TruckDriver,
        "货车司机",
        "个体运输户",
        true,
    ),
];

fn seed_members(
    conn: &mut DbConn,
    clock: &dyn Clock,
    crypto: &DataKeys,
    seeded: &mut Seeded,
) -> QueryResult<()> {
    let Some(admin) = store::user_by_username(conn, DEMO_ADMIN_USERNAME)? else {
        return Ok(());
    };
    for (i, (union, name, suffix, region, birth, form, occupation, employer, approved)) in
        MEMBERS.iter().enumerate()
    {
        let phone = format!("1990000{suffix}");
        if store::id_by_phone(conn, &phone)?.is_some() {
            continue;
        }
        let Some(org) = crate::orgs::store::list_orgs(
            conn,
            &crate::orgs::store::OrgFilter {
                q: Some((*union).to_owned()),
                parent_id: None,
            },
            None,
            1,
        )?
        .pop() else {
            continue;
        };
        let now = clock.now_naive();
        let user = store::insert_user(
            conn,
            &NewUser {
                nickname: name,
                phone: Some(&phone),
                wechat_openid: None,
                username: None,
                password_hash: None,
                created_at: now,
                updated_at: now,
            },
        )?;
        let id_number = synthetic_id(region, birth, &format!("{:03}", 100 + i)).unwrap_or_default();
        let sealed = crypto
            .encrypt(&id_number, "enrollment.id_number")
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
        let enrollment = enrollment_store::insert_enrollment(
            conn,
            &NewEnrollment {
                user_id: user.0,
                org_id: org.id,
                real_name: (*name).to_owned(),
                id_number_enc: sealed,
                id_key_version: crypto.version(),
                id_blind_index: crypto.blind_index("id_number", &id_number),
                id_masked: mask_id_number(&id_number),
                phone,
                employer: (*employer).to_owned(),
                occupation: (*occupation).to_owned(),
                employment_form: form.as_str(),
                consent_version: "2026-01".to_owned(),
                status: "pending",
                created_at: now,
                updated_at: now,
            },
        )?;
        if *approved {
            enrollment_store::approve(conn, enrollment.id, UserId(admin.id), now)?;
        }
        seeded.members_created += 1;
    }
    Ok(())
}

/// A national-scale synthetic set of `total` rest stations for load tests (`huigong
/// seed-demo --stations 100000`); idempotent: only the missing ones are added.
pub fn seed_national_stations(
    conn: &mut DbConn,
    clock: &dyn Clock,
    total: usize,
) -> QueryResult<usize> {
    let Some(admin) = store::user_by_username(conn, DEMO_ADMIN_USERNAME)? else {
        return Ok(0);
    };
    crate::demo_stations::seed_national(conn, clock, admin.id, total)
}
