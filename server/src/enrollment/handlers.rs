//! HTTP endpoints of enrollment, member cards, transfers and the audit log.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{NaiveDateTime, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rules::{CardPayload, EmploymentForm, IdNumber, RealName, Status, mask_name};
use super::store::{self, Enrollment, Event, NewAuditEntry, NewEnrollment, NewTransfer, Transfer};
use crate::AppState;
use crate::auth::{self, AuthUser, Role, grants_of};
use crate::db::{DbConn, is_unique_violation};
use crate::domain::{Fields, OrgId, Phone, UserId, mask_phone, text_field};
use crate::error::{ApiError, ApiResult, FieldError, Text};
use crate::http::{Json, Page, Paged, Query};
use crate::orgs::store as orgs;

const ID_CONTEXT: &str = "enrollment.id_number";
const CARD_KIND: &str = "member-card";
const CARD_HOURS: i64 = 24;

fn utc(t: NaiveDateTime) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// `pending`, `approved`, `rejected`, `withdrawn` or `transferred`.
    pub status: String,
    pub reason: Option<String>,
    pub org_id: Option<OrgId>,
    pub at: chrono::DateTime<Utc>,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            status: e.status,
            reason: e.reason,
            org_id: e.org_id.map(OrgId),
            at: utc(e.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentView {
    pub id: i64,
    pub status: Status,
    pub org_id: OrgId,
    pub real_name: String,
    /// Masked: `1101**********002X`.
    pub id_number: String,
    /// Masked: `138****5678`.
    pub phone: String,
    pub employer: String,
    pub occupation: String,
    pub employment_form: EmploymentForm,
    pub consent_version: String,
    pub member_no: Option<String>,
    pub reject_reason: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    /// Every step with its time (and reason, for a rejection).
    pub history: Vec<EventView>,
}

fn view(e: Enrollment, history: Vec<Event>) -> EnrollmentView {
    EnrollmentView {
        id: e.id,
        status: Status::parse(&e.status).unwrap_or(Status::Pending),
        org_id: OrgId(e.org_id),
        real_name: e.real_name,
        id_number: e.id_masked,
        phone: mask_phone(&e.phone),
        employer: e.employer,
        occupation: e.occupation,
        employment_form: EmploymentForm::parse(&e.employment_form)
            .unwrap_or(EmploymentForm::Standard),
        consent_version: e.consent_version,
        member_no: e.member_no,
        reject_reason: e.reject_reason,
        created_at: utc(e.created_at),
        history: history.into_iter().map(EventView::from).collect(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentForm {
    pub org_id: i64,
    /// 2-30 Chinese characters; a middle dot may separate parts of a minority name.
    pub real_name: String,
    /// 18 characters (GB 11643); a lowercase x is accepted.
    pub id_number: String,
    pub phone: String,
    pub employer: String,
    pub occupation: String,
    /// `standard`, `courier`, `food_delivery`, `truck_driver`, `ride_hailing`, `domestic_service`, `other_gig`.
    pub employment_form: String,
    /// The version of the membership terms the applicant agreed to.
    pub consent_version: String,
}

/// Applies for membership (入会). Accepts `Idempotency-Key`.
#[utoipa::path(tag = "enrollment", request_body = EnrollmentForm, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EnrollmentView), (status = 409, description = "enrollment.duplicate: this person or account already has a pending or active membership"), (status = 422)),
    security(("bearer" = [])))]
#[post(
    "/enrollments",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn submit_enrollment(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<EnrollmentForm>,
) -> ApiResult<HttpResponse> {
    let form = body.0;
    let today = state
        .clock
        .now()
        .with_timezone(&crate::ratelimit::china_time())
        .date_naive();
    let mut fields = Fields::new();
    let real_name = fields.check(RealName::parse(&form.real_name));
    let id_number = fields.check(IdNumber::parse(&form.id_number, today));
    let phone = fields.check(Phone::parse(&form.phone));
    let employer = fields.check(text_field("employer", &form.employer, 2, 100));
    let occupation = fields.check(text_field("occupation", &form.occupation, 2, 50));
    let employment_form = fields.check(
        EmploymentForm::parse(form.employment_form.trim()).ok_or_else(|| {
            FieldError::new(
                "employment_form",
                Text::new(
                    "就业形态取值无效",
                    "employment_form is not one of the listed values",
                ),
            )
        }),
    );
    let consent_version = fields.check(text_field("consent_version", &form.consent_version, 1, 20));
    let org_id = OrgId(form.org_id);
    let org_exists = state
        .db
        .run(move |c| -> ApiResult<bool> { Ok(orgs::org(c, org_id).is_ok()) })
        .await?;
    if !org_exists {
        fields.push(FieldError::new(
            "org_id",
            Text::new(
                "所选工会组织不存在",
                "The union organization does not exist",
            ),
        ));
    }
    fields.finish()?;
    let (
        Some(real_name),
        Some(id_number),
        Some(phone),
        Some(employer),
        Some(occupation),
        Some(employment_form),
        Some(consent_version),
    ) = (
        real_name,
        id_number,
        phone,
        employer,
        occupation,
        employment_form,
        consent_version,
    )
    else {
        return Err(ApiError::internal("fields checked above"));
    };
    let now = state.clock.now_naive();
    let new = NewEnrollment {
        user_id: user.id.0,
        org_id: org_id.0,
        real_name: real_name.as_str().to_owned(),
        id_number_enc: state
            .crypto
            .encrypt(id_number.as_str(), ID_CONTEXT)
            .map_err(ApiError::internal)?,
        id_key_version: state.crypto.version(),
        id_blind_index: state.crypto.blind_index("id_number", id_number.as_str()),
        id_masked: id_number.masked(),
        phone: phone.as_str().to_owned(),
        employer,
        occupation,
        employment_form: employment_form.as_str(),
        consent_version,
        status: Status::Pending.as_str(),
        created_at: now,
        updated_at: now,
    };
    let created = state
        .db
        .run(move |c| -> ApiResult<EnrollmentView> {
            let e = store::insert_enrollment(c, &new).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::Conflict {
                        code: "enrollment.duplicate",
                        detail: Text::new(
                            "该身份证号或账号已有待审核或有效的会员关系",
                            "This person or account already has a pending or active membership",
                        ),
                    }
                } else {
                    e.into()
                }
            })?;
            let history = store::events_of(c, e.id)?;
            Ok(view(e, history))
        })
        .await?;
    tracing::info!(
        enrollment_id = created.id,
        user_id = user.id.0,
        org_id = org_id.0,
        "enrollment submitted"
    );
    Ok(HttpResponse::Created().json(created))
}

/// The caller's own applications, newest first, each with its status history.
#[utoipa::path(tag = "enrollment", responses((status = 200, body = Paged<EnrollmentView>)), security(("bearer" = [])))]
#[get("/enrollments/mine")]
pub async fn list_my_enrollments(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let items = state
        .db
        .run(move |c| -> ApiResult<Vec<EnrollmentView>> {
            let mut events = store::events_of_user(c, user.id)?;
            let list = store::enrollments_of(c, user.id)?;
            Ok(list
                .into_iter()
                .map(|e| {
                    let (mine, rest): (Vec<Event>, Vec<Event>) =
                        events.drain(..).partition(|ev| ev.enrollment_id == e.id);
                    events = rest;
                    view(e, mine)
                })
                .collect())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Paged {
        items,
        next_cursor: None,
    }))
}

fn not_pending() -> ApiError {
    ApiError::Conflict {
        code: "enrollment.not_pending",
        detail: Text::new(
            "该申请已处理，不能再变更",
            "The application is no longer pending",
        ),
    }
}

/// Withdraws one's own application while it is pending.
#[utoipa::path(tag = "enrollment", params(("id" = i64, Path)), responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
#[delete("/enrollments/{id}")]
pub async fn withdraw_enrollment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let e = store::enrollment(c, id)?;
            if e.user_id != user.id.0 {
                return Err(ApiError::NotFound);
            }
            if !store::decide(c, id, Status::Withdrawn.as_str(), None, None, user.id, now)? {
                return Err(not_pending());
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Loads an enrollment for staff: 404 unless the caller holds `role` over its org, so
/// applications outside one's subtree do not even seem to exist.
fn enrollment_for_staff(
    conn: &mut DbConn,
    user: UserId,
    id: i64,
    role: Role,
) -> ApiResult<Enrollment> {
    let e = store::enrollment(conn, id)?;
    auth::require_role_or_hide(conn, user, OrgId(e.org_id), role)?;
    Ok(e)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// The subtree to review (the org and its descendants).
    pub org_id: i64,
    pub status: Option<Status>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    #[serde(flatten)]
    pub enrollment: EnrollmentView,
    pub org_name: String,
}

/// The review queue of an org subtree (org admins).
#[utoipa::path(tag = "enrollment", params(QueueQuery), responses((status = 200, body = Paged<QueueItem>), (status = 403)), security(("bearer" = [])))]
#[get("/admin/enrollments")]
pub async fn list_enrollments(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<QueueQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let org = OrgId(q.org_id);
    let status = q.status.map(Status::as_str);
    let rows = state
        .db
        .run(move |c| -> ApiResult<Vec<(Enrollment, String)>> {
            auth::require_role(c, user.id, org, Role::OrgAdmin)?;
            let path = orgs::org(c, org)?.path;
            Ok(store::queue(c, &path, status, page.after, page.limit + 1)?)
        })
        .await?;
    let paged = page
        .finish(rows, |(e, _)| e.id)
        .map(|(e, org_name)| QueueItem {
            enrollment: view(e, Vec::new()),
            org_name,
        });
    Ok(HttpResponse::Ok().json(paged))
}

/// Approves a pending application: issues a member number unique within the federation.
#[utoipa::path(tag = "enrollment", params(("id" = i64, Path)), responses((status = 200, body = EnrollmentView), (status = 404), (status = 409)), security(("bearer" = [])))]
#[post("/admin/enrollments/{id}/approve")]
pub async fn approve_enrollment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let approved = state
        .db
        .run(move |c| -> ApiResult<EnrollmentView> {
            let e = enrollment_for_staff(c, user.id, id, Role::OrgAdmin)?;
            if e.status != Status::Pending.as_str() {
                return Err(not_pending());
            }
            if !store::approve(c, id, user.id, now)? {
                return Err(not_pending());
            }
            let e = store::enrollment(c, id)?;
            let history = store::events_of(c, id)?;
            Ok(view(e, history))
        })
        .await?;
    tracing::info!(enrollment_id = id, by = user.id.0, "enrollment approved");
    Ok(HttpResponse::Ok().json(approved))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// 2-200 characters, shown to the applicant.
    pub reason: String,
}

impl Rejection {
    fn reason(self) -> ApiResult<String> {
        text_field("reason", &self.reason, 2, 200).map_err(|e| ApiError::Validation(vec![e]))
    }
}

/// Rejects a pending application with a reason the applicant sees.
#[utoipa::path(tag = "enrollment", params(("id" = i64, Path)), request_body = Rejection,
    responses((status = 200, body = EnrollmentView), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
#[post("/admin/enrollments/{id}/reject")]
pub async fn reject_enrollment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<Rejection>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let reason = body.0.reason()?;
    let now = state.clock.now_naive();
    let rejected = state
        .db
        .run(move |c| -> ApiResult<EnrollmentView> {
            enrollment_for_staff(c, user.id, id, Role::OrgAdmin)?;
            if !store::decide(
                c,
                id,
                Status::Rejected.as_str(),
                Some(&reason),
                None,
                user.id,
                now,
            )? {
                return Err(not_pending());
            }
            let history = store::events_of(c, id)?;
            Ok(view(store::enrollment(c, id)?, history))
        })
        .await?;
    Ok(HttpResponse::Ok().json(rejected))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// Why the full number is needed (4-200 characters); kept in the audit log.
    pub purpose: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedIdentity {
    pub enrollment_id: i64,
    pub real_name: String,
    /// The full ID number.
    pub id_number: String,
}

/// Shows the full ID number of an application to an org admin of its subtree, and writes
/// who, when and why to the audit log.
#[utoipa::path(tag = "enrollment", params(("id" = i64, Path)), request_body = RevealRequest,
    responses((status = 200, body = RevealedIdentity), (status = 404), (status = 422)), security(("bearer" = [])))]
#[post("/admin/enrollments/{id}/reveal")]
pub async fn reveal_id_number(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<RevealRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let purpose = text_field("purpose", &body.0.purpose, 4, 200)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let now = state.clock.now_naive();
    let e = state
        .db
        .run(move |c| -> ApiResult<Enrollment> {
            let e = enrollment_for_staff(c, user.id, id, Role::OrgAdmin)?;
            store::audit(
                c,
                &NewAuditEntry {
                    actor_id: user.id.0,
                    action: "reveal_id_number",
                    subject_type: "enrollment",
                    subject_id: id,
                    org_id: Some(e.org_id),
                    purpose: &purpose,
                    created_at: now,
                },
            )?;
            Ok(e)
        })
        .await?;
    let id_number = state
        .crypto
        .decrypt(&e.id_number_enc, e.id_key_version, ID_CONTEXT)
        .map_err(ApiError::internal)?;
    tracing::info!(
        enrollment_id = id,
        by = user.id.0,
        "ID number revealed (audited)"
    );
    Ok(HttpResponse::Ok().json(RevealedIdentity {
        enrollment_id: id,
        real_name: e.real_name,
        id_number,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: OrgId,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardView {
    /// Signed; valid until `expires_at`. Staff check it with `POST /membership-cards/verify`.
    pub qr_payload: String,
    pub expires_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    pub id: i64,
    pub from_org_id: OrgId,
    pub to_org_id: OrgId,
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub decision_reason: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub decided_at: Option<chrono::DateTime<Utc>>,
}

impl From<Transfer> for TransferView {
    fn from(t: Transfer) -> Self {
        TransferView {
            id: t.id,
            from_org_id: OrgId(t.from_org_id),
            to_org_id: OrgId(t.to_org_id),
            reason: t.reason,
            status: t.status,
            decision_reason: t.decision_reason,
            created_at: utc(t.created_at),
            decided_at: t.decided_at.map(utc),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub member_no: String,
    /// `active`.
    pub status: &'static str,
    pub org: OrgRef,
    pub joined_at: Option<chrono::DateTime<Utc>>,
    pub employment_form: EmploymentForm,
    pub card: CardView,
    pub transfers: Vec<TransferView>,
}

fn no_membership() -> ApiError {
    ApiError::NotFound
}

/// The caller's membership and electronic member card (会员卡).
#[utoipa::path(tag = "enrollment", responses((status = 200, body = MembershipView), (status = 404, description = "not a member")), security(("bearer" = [])))]
#[get("/me/membership")]
pub async fn get_my_membership(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let (e, org, transfers) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let (e, org) = store::membership_of(c, user.id)?.ok_or_else(no_membership)?;
            let transfers = store::transfers_of(c, e.id)?;
            Ok((e, org, transfers))
        })
        .await?;
    let member_no = e.member_no.clone().unwrap_or_default();
    let expires = state.clock.now() + TimeDelta::hours(CARD_HOURS);
    let payload = CardPayload {
        e: e.id,
        m: member_no.clone(),
        x: expires.timestamp(),
    };
    let qr_payload = state.crypto.sign(
        CARD_KIND,
        &serde_json::to_vec(&payload).map_err(ApiError::internal)?,
    );
    Ok(HttpResponse::Ok().json(MembershipView {
        member_no,
        status: "active",
        org: OrgRef {
            id: OrgId(org.id),
            name: org.name,
        },
        joined_at: e.joined_at.map(utc),
        employment_form: EmploymentForm::parse(&e.employment_form)
            .unwrap_or(EmploymentForm::Standard),
        card: CardView {
            qr_payload,
            expires_at: expires,
        },
        transfers: transfers.into_iter().map(TransferView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardCheck {
    pub qr_payload: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardVerdict {
    pub valid: bool,
    /// Why not valid: `tampered`, `expired` or `inactive`.
    pub reason: Option<&'static str>,
    pub member_no: Option<String>,
    pub org_name: Option<String>,
    /// Masked: `张*`.
    pub real_name: Option<String>,
}

impl CardVerdict {
    fn invalid(reason: &'static str) -> Self {
        CardVerdict {
            valid: false,
            reason: Some(reason),
            member_no: None,
            org_name: None,
            real_name: None,
        }
    }
}

/// Checks a member card's QR payload (staff of any union).
#[utoipa::path(tag = "enrollment", request_body = CardCheck, responses((status = 200, body = CardVerdict), (status = 403)), security(("bearer" = [])))]
#[post("/membership-cards/verify")]
pub async fn verify_card(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CardCheck>,
) -> ApiResult<HttpResponse> {
    let raw = body.0.qr_payload;
    let payload = state
        .crypto
        .verify(CARD_KIND, raw.trim())
        .and_then(|bytes| serde_json::from_slice::<CardPayload>(&bytes).ok());
    let now = state.clock.now().timestamp();
    let verdict = state
        .db
        .run(move |c| -> ApiResult<CardVerdict> {
            let grants = grants_of(c, user.id)?;
            if !grants.iter().any(|g| g.role.satisfies(Role::Organizer)) {
                return Err(ApiError::forbidden());
            }
            let Some(payload) = payload else {
                return Ok(CardVerdict::invalid("tampered"));
            };
            if payload.x < now {
                return Ok(CardVerdict::invalid("expired"));
            }
            let e = match store::enrollment(c, payload.e) {
                Ok(e) => e,
                Err(diesel::result::Error::NotFound) => {
                    return Ok(CardVerdict::invalid("inactive"));
                }
                Err(err) => return Err(err.into()),
            };
            if e.status != Status::Approved.as_str()
                || e.member_no.as_deref() != Some(payload.m.as_str())
            {
                return Ok(CardVerdict::invalid("inactive"));
            }
            let org = orgs::org(c, OrgId(e.org_id))?;
            Ok(CardVerdict {
                valid: true,
                reason: None,
                member_no: e.member_no,
                org_name: Some(org.name),
                real_name: Some(mask_name(&e.real_name)),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(verdict))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub to_org_id: i64,
    /// 2-200 characters.
    pub reason: String,
}

/// Asks to move one's membership to another union (会员关系转接); an org admin of the
/// receiving union decides. The member number is kept.
#[utoipa::path(tag = "enrollment", request_body = TransferRequest,
    responses((status = 201, body = TransferView), (status = 404, description = "not a member"), (status = 409, description = "a transfer is already pending"), (status = 422)),
    security(("bearer" = [])))]
#[post("/me/membership/transfer")]
pub async fn request_transfer(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<TransferRequest>,
) -> ApiResult<HttpResponse> {
    let TransferRequest { to_org_id, reason } = body.0;
    let mut fields = Fields::new();
    let reason = fields.check(text_field("reason", &reason, 2, 200));
    let now = state.clock.now_naive();
    let transfer = state
        .db
        .run(move |c| -> ApiResult<Transfer> {
            let (e, _) = store::membership_of(c, user.id)?.ok_or_else(no_membership)?;
            match orgs::org(c, OrgId(to_org_id)) {
                Ok(_) if to_org_id == e.org_id => fields.push(FieldError::new(
                    "to_org_id",
                    Text::new("已是该工会的会员", "You are already a member of this union"),
                )),
                Ok(_) => {}
                Err(diesel::result::Error::NotFound) => fields.push(FieldError::new(
                    "to_org_id",
                    Text::new(
                        "转入的工会组织不存在",
                        "The union organization does not exist",
                    ),
                )),
                Err(err) => return Err(err.into()),
            }
            fields.finish()?;
            let reason = reason.ok_or_else(|| ApiError::internal("reason checked above"))?;
            let new = NewTransfer {
                enrollment_id: e.id,
                from_org_id: e.org_id,
                to_org_id,
                reason,
                status: "pending",
                created_at: now,
            };
            store::insert_transfer(c, &new).map_err(|err| {
                if is_unique_violation(&err) {
                    ApiError::Conflict {
                        code: "transfer.pending_exists",
                        detail: Text::new(
                            "已有一个待审核的转接申请",
                            "A transfer request is already pending",
                        ),
                    }
                } else {
                    err.into()
                }
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(TransferView::from(transfer)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TransferQuery {
    /// Transfers into this org's subtree.
    pub org_id: i64,
    /// `pending`, `approved` or `rejected`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Transfers into an org subtree (org admins of it).
#[utoipa::path(tag = "enrollment", params(TransferQuery), responses((status = 200, body = Paged<TransferView>), (status = 403)), security(("bearer" = [])))]
#[get("/admin/membership-transfers")]
pub async fn list_transfers(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<TransferQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let status = q.status.filter(|s| !s.is_empty());
    if status
        .as_deref()
        .is_some_and(|s| !matches!(s, "pending" | "approved" | "rejected"))
    {
        return Err(ApiError::invalid_query(
            "status",
            Text::new(
                "status 取值无效",
                "status must be pending, approved or rejected",
            ),
        ));
    }
    let org = OrgId(q.org_id);
    let rows = state
        .db
        .run(move |c| -> ApiResult<Vec<Transfer>> {
            auth::require_role(c, user.id, org, Role::OrgAdmin)?;
            let path = orgs::org(c, org)?.path;
            Ok(store::incoming_transfers(
                c,
                &path,
                status.as_deref(),
                page.after,
                page.limit + 1,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page.finish(rows, |t| t.id).map(TransferView::from)))
}

async fn decide_transfer(
    state: &AppState,
    user: AuthUser,
    id: i64,
    approve: bool,
    reason: Option<String>,
) -> ApiResult<TransferView> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| -> ApiResult<TransferView> {
            let t = store::transfer(c, id)?;
            auth::require_role_or_hide(c, user.id, OrgId(t.to_org_id), Role::OrgAdmin)?;
            let decided =
                match store::decide_transfer(c, &t, approve, reason.as_deref(), user.id, now) {
                    Ok(decided) => decided,
                    Err(diesel::result::Error::RollbackTransaction) => false,
                    Err(err) => return Err(err.into()),
                };
            if !decided {
                return Err(ApiError::Conflict {
                    code: "transfer.not_pending",
                    detail: Text::new(
                        "该转接申请已处理或会员关系已变化",
                        "The transfer is no longer pending or the membership changed",
                    ),
                });
            }
            Ok(TransferView::from(store::transfer(c, id)?))
        })
        .await
}

/// Approves a transfer into one's subtree: the membership moves, the member number stays.
#[utoipa::path(tag = "enrollment", params(("id" = i64, Path)), responses((status = 200, body = TransferView), (status = 404), (status = 409)), security(("bearer" = [])))]
#[post("/admin/membership-transfers/{id}/approve")]
pub async fn approve_transfer(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(decide_transfer(&state, user, id.into_inner(), true, None).await?))
}

/// Rejects a transfer into one's subtree, with a reason.
#[utoipa::path(tag = "enrollment", params(("id" = i64, Path)), request_body = Rejection,
    responses((status = 200, body = TransferView), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
#[post("/admin/membership-transfers/{id}/reject")]
pub async fn reject_transfer(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<Rejection>,
) -> ApiResult<HttpResponse> {
    let reason = body.0.reason()?;
    Ok(HttpResponse::Ok()
        .json(decide_transfer(&state, user, id.into_inner(), false, Some(reason)).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub actor_id: UserId,
    pub action: String,
    pub subject_type: String,
    pub subject_id: i64,
    pub org_id: Option<OrgId>,
    pub purpose: String,
    pub at: chrono::DateTime<Utc>,
}

/// Who saw which personal data, when and why, newest first (platform admins).
#[utoipa::path(tag = "enrollment", params(crate::http::PageQuery), responses((status = 200, body = Paged<AuditView>), (status = 403)), security(("bearer" = [])))]
#[get("/admin/audit-log")]
pub async fn list_audit_log(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<crate::http::PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::try_from(&query.0)?;
    let rows = state
        .db
        .run(move |c| -> ApiResult<Vec<store::AuditEntry>> {
            auth::require_platform_admin(c, user.id)?;
            Ok(store::audit_entries(c, page.after, page.limit + 1)?)
        })
        .await?;
    let paged = page.finish(rows, |a| a.id).map(|a| AuditView {
        id: a.id,
        actor_id: UserId(a.actor_id),
        action: a.action,
        subject_type: a.subject_type,
        subject_id: a.subject_id,
        org_id: a.org_id.map(OrgId),
        purpose: a.purpose,
        at: utc(a.created_at),
    });
    Ok(HttpResponse::Ok().json(paged))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthCount {
    /// `YYYY-MM` (China time).
    pub month: String,
    pub applications: i64,
    pub approvals: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipStats {
    pub org_id: OrgId,
    /// Applications by status (approved = active members).
    pub by_status: std::collections::BTreeMap<String, i64>,
    /// Active members by employment form.
    pub by_employment_form: std::collections::BTreeMap<String, i64>,
    pub by_month: Vec<MonthCount>,
}

/// Membership figures of an org subtree (organizers and org admins of it).
#[utoipa::path(tag = "enrollment", params(("id" = i64, Path)), responses((status = 200, body = MembershipStats), (status = 403), (status = 404)), security(("bearer" = [])))]
#[get("/admin/orgs/{id}/stats/membership")]
pub async fn membership_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let org = OrgId(id.into_inner());
    let stats = state
        .db
        .run(move |c| -> ApiResult<MembershipStats> {
            auth::require_role(c, user.id, org, Role::Organizer)?;
            let path = orgs::org(c, org)?.path;
            let mut by_status: std::collections::BTreeMap<String, i64> = Status::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), 0))
                .collect();
            by_status.extend(store::count_by_status(c, &path)?);
            let mut by_employment_form: std::collections::BTreeMap<String, i64> =
                EmploymentForm::ALL
                    .iter()
                    .map(|f| (f.as_str().to_owned(), 0))
                    .collect();
            by_employment_form.extend(store::count_members_by_form(c, &path)?);
            let by_month = store::count_by_month(c, &path)?
                .into_iter()
                .map(|r| MonthCount {
                    month: r.month,
                    applications: r.applications,
                    approvals: r.approvals,
                })
                .collect();
            Ok(MembershipStats {
                org_id: org,
                by_status,
                by_employment_form,
                by_month,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}
