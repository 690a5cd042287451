//! Rest stations: nearby equals a brute-force scan (Redis GEO and the in-process grid), the
//! index comes back after a loss, opening hours across midnight, the 300 m check-in, one
//! review per member, reports until resolved, import all-or-nothing, figures per org.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use huigong::domain::{Coord, M_PER_DEG, gcj02_to_wgs84};
use huigong::stations::rules::Hours;
use rand::Rng;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, token};

/// 金华市金东区, GCJ-02.
const JINDONG: (f64, f64) = (29.0991, 119.6985);

struct Stations {
    app: TestApp,
    admin: String,
    org: i64,
}

async fn stations() -> Stations {
    let app = TestApp::spawn().await;
    let (_, admin) = app.platform_admin().await;
    let org: Value = app
        .post("/api/v1/admin/orgs", Some(&admin), json!({"name": "金华市金东区总工会", "kind": "district", "parent_id": null, "region_code": "330703"}))
        .await
        .json()
        .await
        .unwrap();
    Stations {
        org: org["id"].as_i64().unwrap(),
        app,
        admin,
    }
}

/// A wall-clock time in China as UTC.
fn china(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    let local = NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, min, 0))
        .unwrap();
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&local)
        .unwrap()
        .with_timezone(&Utc)
}

/// A point `north_m` metres north and `east_m` east of `from`.
fn offset(from: (f64, f64), north_m: f64, east_m: f64) -> (f64, f64) {
    (
        from.0 + north_m / M_PER_DEG,
        from.1 + east_m / (M_PER_DEG * from.0.to_radians().cos()),
    )
}

impl Stations {
    async fn create(&self, at: (f64, f64), amenities: Value, hours: Value) -> Value {
        let res = self
            .app
            .post("/api/v1/admin/stations", Some(&self.admin), json!({
                "org_id": self.org, "name": "多湖街道户外劳动者服务站", "address": "金东区多湖街道光南路 588 号",
                "location": {"lat": at.0, "lng": at.1}, "amenities": amenities, "opening_hours": hours, "phone": "0579-82601234",
            }))
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// Replaces a station as its admin; the answer's status is checked by the caller.
    async fn update(&self, id: i64, body: Value) -> reqwest::Response {
        self.app
            .request(
                Method::PUT,
                &format!("/api/v1/admin/stations/{id}"),
                Some(&self.admin),
                Some(body),
            )
            .await
    }

    /// Removes a station as its admin.
    async fn remove(&self, id: i64) {
        let res = self
            .app
            .request(
                Method::DELETE,
                &format!("/api/v1/admin/stations/{id}"),
                Some(&self.admin),
                None,
            )
            .await;
        assert_eq!(res.status(), 204);
    }

    async fn import(&self, csv: String) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/api/v1/admin/stations/import"))
            .bearer_auth(&self.admin)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap()
    }

    async fn nearby(&self, query: &str) -> Vec<Value> {
        let res = self
            .app
            .get(&format!("/api/v1/stations/nearby?{query}"), None)
            .await;
        assert_eq!(res.status(), 200, "{query}: {}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        body["items"].as_array().unwrap().clone()
    }

    async fn stored(&self) -> usize {
        let res = self
            .app
            .get(
                &format!("/api/v1/admin/orgs/{}/stations?limit=100", self.org),
                Some(&self.admin),
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .len()
    }
}

const AMENITIES: [&str; 5] = ["charging", "water", "microwave", "first_aid", "books"];
const HOURS: [&str; 4] = [
    "24/7",
    "1-5 08:00-20:00; 6,7 09:00-18:00",
    "1-7 20:00-06:00",
    "5 22:00-04:00",
];

struct Fixture {
    id: i64,
    at: Coord,
    amenities: Vec<&'static str>,
    hours: Hours,
}

#[tokio::test]
async fn nearby_equals_a_brute_force_scan() {
    let s = stations().await;
    // Saturday 01:30 in China: the overnight and Friday-night stations are open.
    s.app.clock.set(china(2026, 11, 28, 1, 30));
    let mut rng = rand::rng();
    let mut csv =
        String::from("org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone\n");
    let mut fixtures = Vec::new();
    for i in 0..400 {
        // Most in a dense 10 km core, some spread over 60 km.
        let spread = if i % 4 == 0 { 0.3 } else { 0.05 };
        let at = Coord {
            lat: JINDONG.0 + rng.random_range(-spread..spread),
            lng: JINDONG.1 + rng.random_range(-spread..spread),
        };
        let amenities: Vec<&str> = AMENITIES
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.5))
            .collect();
        let hours = HOURS[i % HOURS.len()];
        csv += &format!(
            "{},驿站{i},金东区测试路 {i} 号,{},{},,{},\"{hours}\",,0579-8260{:04}\n",
            s.org,
            at.lat,
            at.lng,
            amenities.join("|"),
            i
        );
        fixtures.push(Fixture {
            id: 0,
            at,
            amenities,
            hours: Hours::from_text("h", hours).unwrap(),
        });
    }
    let res = s.import(csv).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let imported: Value = res.json().await.unwrap();
    assert_eq!(imported["imported"], 400);
    for (f, id) in fixtures.iter_mut().zip(imported["ids"].as_array().unwrap()) {
        f.id = id.as_i64().unwrap();
    }

    // One station removed and one moved: the index follows.
    let gone = fixtures.remove(3).id;
    s.remove(gone).await;
    let moved = &mut fixtures[5];
    moved.at = Coord {
        lat: JINDONG.0 + 0.001,
        lng: JINDONG.1 - 0.002,
    };
    let res = s
        .update(
            moved.id,
            json!({
                "org_id": s.org, "name": "驿站 moved", "address": "金东区测试路",
                "location": {"lat": moved.at.lat, "lng": moved.at.lng},
                "amenities": moved.amenities, "opening_hours": moved.hours.to_json(), "phone": "0579-82609999",
            }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    let local = china(2026, 11, 28, 1, 30)
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .naive_local();
    for round in 0..80 {
        // Half in the dense core, where searches start narrower than the first ring.
        let spread = if round % 2 == 0 { 0.05 } else { 0.35 };
        let center = Coord {
            lat: JINDONG.0 + rng.random_range(-spread..spread),
            lng: JINDONG.1 + rng.random_range(-spread..spread),
        };
        let radius: f64 = [300.0, 1_500.0, 5_000.0, 20_000.0, 50_000.0][round % 5];
        let wanted: Vec<&str> = AMENITIES
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.2))
            .collect();
        let open_now = round % 3 == 0;
        let limit = [1, 5, 20, 100][(round / 2) % 4];
        let mut expected: Vec<(f64, i64, bool)> = fixtures
            .iter()
            .map(|f| (center.distance_m(&f.at), f))
            .filter(|(d, f)| {
                *d <= radius
                    && wanted.iter().all(|a| f.amenities.contains(a))
                    && (!open_now || f.hours.is_open_at(local))
            })
            .map(|(d, f)| (d, f.id, f.hours.is_open_at(local)))
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        expected.truncate(limit);
        let got = s
            .nearby(&format!(
                "lat={}&lng={}&radius_m={radius}&amenities={}&open_now={open_now}&limit={limit}",
                center.lat,
                center.lng,
                wanted.join(",")
            ))
            .await;
        let got_ids: Vec<i64> = got
            .iter()
            .map(|i| i["station"]["id"].as_i64().unwrap())
            .collect();
        let expected_ids: Vec<i64> = expected.iter().map(|e| e.1).collect();
        assert_eq!(
            got_ids, expected_ids,
            "round {round}: r={radius} {wanted:?} open_now={open_now}"
        );
        for (item, (d, _, open)) in got.iter().zip(&expected) {
            assert!((item["distance_m"].as_f64().unwrap() - d).abs() <= 0.06);
            assert_eq!(item["open_now"], *open);
            assert_eq!(item["station"]["open_now"], *open);
            // Anonymous callers see a masked phone.
            assert!(item["station"]["phone"].as_str().unwrap().contains('*'));
        }
    }

    // Searches in the dense core started narrower than the first ring.
    assert!(s.app.state.station_rows.narrow_starts.get() > 0);

    // The same answers in WGS-84: the point is converted before searching.
    let gps = gcj02_to_wgs84(JINDONG.0, JINDONG.1);
    let a = s
        .nearby(&format!("lat={}&lng={}&limit=10", JINDONG.0, JINDONG.1))
        .await;
    let b = s
        .nearby(&format!(
            "lat={}&lng={}&coord=wgs84&limit=10",
            gps.lat, gps.lng
        ))
        .await;
    let ids = |v: &[Value]| {
        v.iter()
            .map(|i| i["station"]["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));

    // The index is lost (Redis flushed): the next search rebuilds it from SQL.
    if s.app.state.geo.kind() == "redis" {
        let keys = &s.app.state.keys;
        s.app
            .state
            .hot
            .del(&[
                keys.key("stations", "geo"),
                keys.key("stations", "geo:built"),
            ])
            .await
            .unwrap();
        let c = s
            .nearby(&format!("lat={}&lng={}&limit=10", JINDONG.0, JINDONG.1))
            .await;
        assert_eq!(ids(&a), ids(&c));
    }
}

#[tokio::test]
async fn bad_nearby_queries_name_the_parameter() {
    let s = stations().await;
    for (query, field) in [
        ("lat=29.1&lng=119.7&radius_m=50001", "radius_m"),
        ("lat=29.1&lng=119.7&radius_m=0", "radius_m"),
        ("lat=29.1&lng=119.7&limit=101", "limit"),
        ("lat=29.1&lng=119.7&limit=0", "limit"),
        ("lat=29.1&lng=119.7&amenities=sauna", "amenities"),
        ("lat=91&lng=119.7", "lat"),
        ("lat=29.1&lng=200", "lng"),
        ("lat=29.1&lng=-180.5&radius_m=100", "lng"),
        ("lat=95&lng=200", "lat"),
        ("lat=29.1&lng=119.7&radius=100", "radius"),
        ("lat=abc&lng=119.7", "lat"),
        ("lng=119.7", "lat"),
        ("lat=29.1&lng=119.7&coord=bd09", "coord"),
    ] {
        let res = s
            .app
            .get(&format!("/api/v1/stations/nearby?{query}"), None)
            .await;
        let p = problem(res, 400, "request.invalid_query").await;
        assert!(fields(&p).iter().any(|f| f == field), "{query}: {p}");
    }
    // Lists too: a misspelt parameter is named, not ignored.
    let res = s
        .app
        .get(
            &format!("/api/v1/admin/orgs/{}/stations?limt=5", s.org),
            Some(&s.admin),
        )
        .await;
    let p = problem(res, 400, "request.invalid_query").await;
    assert_eq!(fields(&p), vec!["limt"]);
}

#[tokio::test]
async fn overnight_hours_are_right_on_both_sides_of_midnight() {
    let s = stations().await;
    let night = s
        .create(
            JINDONG,
            json!(["charging"]),
            json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "20:00", "close": "06:00"}]),
        )
        .await;
    let id = night["id"].as_i64().unwrap();
    let near = |open_now: bool| {
        format!(
            "lat={}&lng={}&radius_m=1000&open_now={open_now}",
            JINDONG.0, JINDONG.1
        )
    };
    for (h, m, open) in [
        (19, 59, false),
        (20, 0, true),
        (23, 59, true),
        (0, 0, true),
        (5, 59, true),
        (6, 0, false),
        (12, 0, false),
    ] {
        s.app.clock.set(china(2026, 11, 24, h, m));
        let all = s.nearby(&near(false)).await;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["open_now"], open, "{h:02}:{m:02}");
        let open_only = s.nearby(&near(true)).await;
        assert_eq!(open_only.len(), usize::from(open), "{h:02}:{m:02}");
        let one: Value = s
            .app
            .get(&format!("/api/v1/stations/{id}"), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(one["open_now"], open);
    }
    assert_eq!(
        night["opening_hours"],
        json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "20:00", "close": "06:00"}])
    );
}

#[tokio::test]
async fn check_in_within_300_m_once_a_day() {
    let s = stations().await;
    let station = s.create(JINDONG, json!(["water"]), json!("24/7")).await;
    let id = station["id"].as_i64().unwrap();
    let rider = token(&s.app.wechat_member().await);
    let visit = |at: (f64, f64), coord: &str| json!({"location": {"lat": at.0, "lng": at.1}, "coord": coord});
    let path = format!("/api/v1/stations/{id}/visits");

    let far = offset(JINDONG, 301.0, 0.0);
    let res = s.app.post(&path, Some(&rider), visit(far, "gcj02")).await;
    let p = problem(res, 422, "validation.failed").await;
    assert_eq!(fields(&p), vec!["location"]);

    let near = offset(JINDONG, 0.0, 299.0);
    let res = s.app.post(&path, Some(&rider), visit(near, "gcj02")).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert!((first["distance_m"].as_f64().unwrap() - 299.0).abs() < 0.5);
    // Raw GPS at the station is converted, and the same day answers with the first visit.
    let gps = gcj02_to_wgs84(JINDONG.0, JINDONG.1);
    let res = s
        .app
        .post(&path, Some(&rider), visit((gps.lat, gps.lng), "wgs84"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], first["id"]);
    // Without the conversion the GPS point is hundreds of metres off.
    let res = s
        .app
        .post(&path, Some(&rider), visit((gps.lat, gps.lng), "gcj02"))
        .await;
    problem(res, 422, "validation.failed").await;

    // Twenty at once from another rider: one visit.
    let other = token(&s.app.wechat_member().await);
    let calls = (0..20).map(|_| s.app.post(&path, Some(&other), visit(JINDONG, "gcj02")));
    let answers = futures_util::future::join_all(calls).await;
    let mut ids = Vec::new();
    let mut created = 0;
    for res in answers {
        created += usize::from(res.status() == 201);
        assert!(res.status() == 201 || res.status() == 200);
        ids.push(res.json::<Value>().await.unwrap()["id"].clone());
    }
    assert_eq!(created, 1);
    assert!(ids.iter().all(|i| *i == ids[0]));

    let res = s.app.post(&path, None, visit(JINDONG, "gcj02")).await;
    assert_eq!(res.status(), 401);
    let res = s
        .app
        .post(
            "/api/v1/stations/999999/visits",
            Some(&rider),
            visit(JINDONG, "gcj02"),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn one_review_per_member_and_reports_until_resolved() {
    let s = stations().await;
    let station = s.create(JINDONG, json!(["water"]), json!("24/7")).await;
    let id = station["id"].as_i64().unwrap();
    let reviews = format!("/api/v1/stations/{id}/reviews");
    let a = token(&s.app.wechat_member().await);
    let res = s
        .app
        .post(
            &reviews,
            Some(&a),
            json!({"rating": 5, "comment": "热水充足"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = s.app.post(&reviews, Some(&a), json!({"rating": 3})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["replaced"], true);
    assert_eq!(body["station_rating"], json!({"average": 3.0, "count": 1}));
    for (bad, field) in [
        (json!({"rating": 6}), "rating"),
        (json!({"rating": 0}), "rating"),
        (json!({"rating": 4, "comment": "字".repeat(501)}), "comment"),
    ] {
        let p = problem(
            s.app.post(&reviews, Some(&a), bad).await,
            422,
            "validation.failed",
        )
        .await;
        assert_eq!(fields(&p), vec![field]);
    }
    let p = problem(
        s.app
            .post(&reviews, Some(&a), json!({"rating": "five"}))
            .await,
        400,
        "request.invalid_field",
    )
    .await;
    assert_eq!(fields(&p), vec!["rating"]);

    // Ten members at once: every review counted exactly once.
    let mut members = Vec::new();
    for _ in 0..10 {
        members.push(token(&s.app.wechat_member().await));
    }
    let calls = members
        .iter()
        .map(|m| s.app.post(&reviews, Some(m), json!({"rating": 4})));
    for res in futures_util::future::join_all(calls).await {
        assert_eq!(res.status(), 201);
    }
    let one: Value = s
        .app
        .get(&format!("/api/v1/stations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["rating"], json!({"average": 3.9, "count": 11}));

    // Reports show until an admin resolves them; a repeat updates, not doubles.
    let reports = format!("/api/v1/stations/{id}/reports");
    let res = s
        .app
        .post(
            &reports,
            Some(&a),
            json!({"kind": "closed", "detail": "今天没开门"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let closed: Value = res.json().await.unwrap();
    let res = s
        .app
        .post(
            &reports,
            Some(&a),
            json!({"kind": "closed", "detail": "下午还是没开，打 138 1234 5678 或 13812345678 没人接"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = s
        .app
        .post(
            &reports,
            Some(&members[0]),
            json!({"kind": "broken", "detail": "微波炉坏了"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let broken: Value = res.json().await.unwrap();
    for (bad, field) in [
        (json!({"kind": "dirty"}), "kind"),
        (json!({"kind": "other"}), "detail"),
    ] {
        let p = problem(
            s.app.post(&reports, Some(&a), bad).await,
            422,
            "validation.failed",
        )
        .await;
        assert_eq!(fields(&p), vec![field]);
    }
    let one: Value = s
        .app
        .get(&format!("/api/v1/stations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["open_reports"],
        json!({"closed": 1, "broken": 1, "other": 0})
    );
    assert_eq!(one["reports"].as_array().unwrap().len(), 2);
    assert_eq!(
        one["reports"][1]["detail"],
        "下午还是没开，打 138 **** 5678 或 138****5678 没人接"
    );
    assert!(one["reports"][0].get("user_id").is_none());

    let resolve = format!("/api/v1/admin/station-reports/{}/resolve", closed["id"]);
    let res = s.app.post(&resolve, Some(&a), json!({})).await;
    assert!(
        res.status() == 403 || res.status() == 404,
        "a member cannot resolve"
    );
    let res = s.app.post(&resolve, Some(&s.admin), json!({})).await;
    assert_eq!(res.status(), 200);
    problem(
        s.app.post(&resolve, Some(&s.admin), json!({})).await,
        409,
        "station_report.resolved",
    )
    .await;
    let one: Value = s
        .app
        .get(&format!("/api/v1/stations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["open_reports"],
        json!({"closed": 0, "broken": 1, "other": 0})
    );
    assert_eq!(one["reports"].as_array().unwrap().len(), 1);

    // A removed station takes no new reviews, but its open reports can still be resolved.
    s.remove(id).await;
    let res = s.app.post(&reviews, Some(&a), json!({"rating": 2})).await;
    assert_eq!(res.status(), 404);
    let resolve = format!("/api/v1/admin/station-reports/{}/resolve", broken["id"]);
    assert_eq!(
        s.app
            .post(&resolve, Some(&s.admin), json!({}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn admins_are_checked_and_bad_stations_store_nothing() {
    let s = stations().await;
    let res = s
        .app
        .post("/api/v1/admin/stations", Some(&s.admin), json!({
            "org_id": s.org, "name": "", "address": "东", "location": {"lat": 91.0, "lng": 119.7},
            "amenities": ["sauna"], "opening_hours": [{"days": [1], "open": "25:00", "close": "06:00"}],
            "time_zone": "Mars/Base", "phone": "12345",
        }))
        .await;
    let p = problem(res, 422, "validation.failed").await;
    let mut got = fields(&p);
    got.sort();
    assert_eq!(
        got,
        vec![
            "address",
            "amenities",
            "location",
            "name",
            "opening_hours[0].open",
            "phone",
            "time_zone"
        ]
    );
    let res = s
        .app
        .post("/api/v1/admin/stations", Some(&s.admin), json!({
            "org_id": s.org, "name": "驿站", "address": "金东区某路", "location": {"lat": "29", "lng": 119.7},
            "opening_hours": "24/7", "phone": "0579-82601234",
        }))
        .await;
    let p = problem(res, 400, "request.invalid_field").await;
    assert_eq!(fields(&p), vec!["location.lat"]);

    // A member is not an admin of the org.
    let member = token(&s.app.wechat_member().await);
    let res = s
        .app
        .post("/api/v1/admin/stations", Some(&member), json!({
            "org_id": s.org, "name": "驿站", "address": "金东区某路", "location": {"lat": 29.1, "lng": 119.7},
            "opening_hours": "24/7", "phone": "0579-82601234",
        }))
        .await;
    assert!(
        res.status() == 403 || res.status() == 422,
        "{}",
        res.status()
    );

    // Import: one bad row and nothing is stored; errors name row and column.
    let header = "org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone\n";
    let csv = format!(
        "{header}{o},驿站一,金东区一路,29.1,119.7,,water,24/7,,0579-82601234\n{o},驿站二,金东区二路,north,119.7,,water,1-5 08:00-20:00,,0579-82601235\n",
        o = s.org
    );
    let p = problem(s.import(csv).await, 422, "validation.failed").await;
    assert_eq!(fields(&p), vec!["rows[2].lat"]);
    let csv = format!("{header}999999,驿站一,金东区一路,29.1,119.7,,water,24/7,,0579-82601234\n");
    let res = s.import(csv).await;
    assert!(res.status() == 403 || res.status() == 422);
    let res = s
        .app
        .client
        .post(s.app.url("/api/v1/admin/stations/import"))
        .bearer_auth(&s.admin)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(s.stored().await, 0);
    assert!(
        s.nearby(&format!(
            "lat={}&lng={}&radius_m=50000",
            JINDONG.0, JINDONG.1
        ))
        .await
        .is_empty()
    );

    // Someone else's station is not there for an admin of another org.
    let station = s.create(JINDONG, json!([]), json!("24/7")).await;
    s.app.staff_user("other-admin", false).await;
    let other_admin = s.app.staff_login("other-admin").await;
    let res = s
        .app
        .request(
            Method::DELETE,
            &format!("/api/v1/admin/stations/{}", station["id"]),
            Some(&other_admin),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(s.stored().await, 1);
    // The admin who created it sees the phone in full.
    assert_eq!(station["phone"], "057982601234");
}

#[tokio::test]
async fn figures_per_org_subtree() {
    let s = stations().await;
    let now = china(2026, 11, 23, 10, 0);
    s.app.clock.set(now);
    let a = s.create(JINDONG, json!(["water"]), json!("24/7")).await["id"]
        .as_i64()
        .unwrap();
    let b = s
        .create(
            offset(JINDONG, 2_000.0, 0.0),
            json!(["water"]),
            json!("24/7"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let riders = [
        token(&s.app.wechat_member().await),
        token(&s.app.wechat_member().await),
    ];
    for r in &riders {
        let at = json!({"location": {"lat": JINDONG.0, "lng": JINDONG.1}});
        assert_eq!(
            s.app
                .post(&format!("/api/v1/stations/{a}/visits"), Some(r), at)
                .await
                .status(),
            201
        );
    }
    s.app.clock.set(now + chrono::TimeDelta::days(1));
    let there = offset(JINDONG, 2_000.0, 0.0);
    let at = json!({"location": {"lat": there.0, "lng": there.1}});
    assert_eq!(
        s.app
            .post(
                &format!("/api/v1/stations/{b}/visits"),
                Some(&riders[0]),
                at
            )
            .await
            .status(),
        201
    );
    s.app
        .post(
            &format!("/api/v1/stations/{a}/reviews"),
            Some(&riders[0]),
            json!({"rating": 5}),
        )
        .await;
    s.app
        .post(
            &format!("/api/v1/stations/{b}/reviews"),
            Some(&riders[1]),
            json!({"rating": 4}),
        )
        .await;
    s.app
        .post(
            &format!("/api/v1/stations/{b}/reports"),
            Some(&riders[1]),
            json!({"kind": "broken", "detail": "充电柜坏了"}),
        )
        .await;

    let res = s
        .app
        .get(
            &format!("/api/v1/admin/orgs/{}/stats/stations?days=3", s.org),
            Some(&s.admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    let stats: Value = res.json().await.unwrap();
    assert_eq!(stats["stations"], 2);
    assert_eq!(stats["rating"], json!({"average": 4.5, "count": 2}));
    assert_eq!(stats["open_reports"], 1);
    assert_eq!(stats["visits_total"], 3);
    assert_eq!(
        stats["visits_per_day"],
        json!([
            {"date": "2026-11-22", "visits": 0},
            {"date": "2026-11-23", "visits": 2},
            {"date": "2026-11-24", "visits": 1},
        ])
    );
    let member = token(&s.app.wechat_member().await);
    let res = s
        .app
        .get(
            &format!("/api/v1/admin/orgs/{}/stats/stations", s.org),
            Some(&member),
        )
        .await;
    assert!(res.status() == 403 || res.status() == 404);
    problem(
        s.app
            .get(
                &format!("/api/v1/admin/orgs/{}/stats/stations?days=0", s.org),
                Some(&s.admin),
            )
            .await,
        400,
        "request.invalid_query",
    )
    .await;
}

/// How many times this server has searched its nearby index.
async fn index_searches(app: &TestApp) -> u64 {
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("huigong_nearby_index_searches_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no index search count in {metrics}"))
}

/// Far from any other station, a 50 km search goes straight to the whole radius instead of
/// widening through five rings that cannot hold enough stations.
#[tokio::test]
async fn a_sparse_search_asks_the_index_once() {
    let s = stations().await;
    let id = s.create(JINDONG, json!(["water"]), json!("24/7")).await["id"].clone();
    let (lat, lng) = offset(JINDONG, 30_000.0, 0.0);
    // The first search may find the rows not yet read (start-up reads them beside it).
    s.nearby(&format!("lat={lat}&lng={lng}&radius_m=50000&limit=5"))
        .await;
    let before = index_searches(&s.app).await;
    let items = s
        .nearby(&format!("lat={lat}&lng={lng}&radius_m=50000&limit=5"))
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["station"]["id"], id);
    assert_eq!(index_searches(&s.app).await - before, 1);
}

#[tokio::test]
async fn demo_stations_are_found_near_jindong_and_laoling() {
    let app = TestApp::spawn().await;
    let crypto = app.state.crypto.clone();
    let clock = app.clock.clone();
    let seeded = app
        .db(move |c| Ok(huigong::demo::seed(c, clock.as_ref(), &crypto)?))
        .await;
    assert_eq!(seeded.stations_created, 20);
    let clock = app.clock.clone();
    let added = app
        .db(move |c| {
            Ok(huigong::demo::seed_national_stations(
                c,
                clock.as_ref(),
                2_000,
            )?)
        })
        .await;
    assert_eq!(added, 2_000);
    // The index was built before the seed: the periodic check (or a rebuild) catches up;
    // force it here as the check would.
    huigong::stations::nearby::rebuild(&app.state)
        .await
        .unwrap();
    for (lat, lng, name) in [
        (29.2163, 119.8152, "傅村镇户外劳动者驿站"),
        (29.0885, 119.6912, "多湖街道户外劳动者服务站"),
        (37.7309, 117.2296, "乐陵市市中街道户外劳动者驿站"),
    ] {
        let res = app
            .get(
                &format!("/api/v1/stations/nearby?lat={lat}&lng={lng}&radius_m=100"),
                None,
            )
            .await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["items"][0]["station"]["name"], name);
        assert_eq!(body["items"][0]["distance_m"], 0.0);
    }
    let res = app
        .get(
            "/api/v1/stations/nearby?lat=39.9042&lng=116.4074&radius_m=20000&limit=50",
            None,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert!(
        body["items"].as_array().unwrap().len() > 10,
        "Beijing has synthetic stations"
    );
}

#[tokio::test]
async fn the_index_catches_up_with_rows_it_never_saw() {
    let app = TestApp::spawn_with(|c| c.station_sync_secs = 1).await;
    let crypto = app.state.crypto.clone();
    let clock = app.clock.clone();
    // Stations written straight to SQL (as another process, or a lost index write, would
    // leave them): the periodic check sees the count differ and rebuilds.
    app.db(move |c| Ok(huigong::demo::seed(c, clock.as_ref(), &crypto)?))
        .await;
    // The periodic check runs every second: a search finds something within five.
    let found_within_5_s = |query: &'static str| {
        let app = &app;
        async move {
            let mut found = Value::Null;
            for _ in 0..50 {
                found = app.get(query, None).await.json().await.unwrap();
                if found["items"].as_array().is_some_and(|i| !i.is_empty()) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            found
        }
    };
    let found =
        found_within_5_s("/api/v1/stations/nearby?lat=37.7309&lng=117.2296&radius_m=100").await;
    assert_eq!(
        found["items"][0]["station"]["name"],
        "乐陵市市中街道户外劳动者驿站"
    );

    // Moved in SQL with no index write (as a failed GEOADD, or two moves whose index writes
    // crossed, would leave it): the periodic check puts it where its row says.
    let id = found["items"][0]["station"]["id"].as_i64().unwrap();
    app.db(move |c| {
        use diesel::prelude::*;
        use huigong::db::schema::stations;
        diesel::update(stations::table.find(id))
            .set((stations::lat.eq(37.7809), stations::lng.eq(117.2296)))
            .execute(c)?;
        Ok(())
    })
    .await;
    let found =
        found_within_5_s("/api/v1/stations/nearby?lat=37.7809&lng=117.2296&radius_m=100").await;
    assert_eq!(found["items"][0]["station"]["id"], id);
    let d = found["items"][0]["distance_m"].as_f64().unwrap();
    assert!(d < 1.0, "{d}");
}

/// Searches answer from rows held in memory: every write (on any server) must show in the
/// next search. With Redis, a second server on the same database and keys does the
/// searching; embedded, the one server does.
#[tokio::test]
async fn every_change_shows_in_the_next_search_on_every_server() {
    let s = stations().await;
    let second = if s.app.state.geo.kind() == "redis" {
        Some(s.app.second_server().await)
    } else {
        None
    };
    let searcher = second.as_ref().unwrap_or(&s.app);
    searcher.clock.set(china(2026, 11, 28, 12, 0));
    let near = |query: String| async move {
        let res = searcher
            .get(&format!("/api/v1/stations/nearby?{query}"), None)
            .await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    let here = format!("lat={}&lng={}&radius_m=3000", JINDONG.0, JINDONG.1);
    // The searcher has read its rows before the station exists.
    assert!(near(here.clone()).await.is_empty());

    let station = s.create(JINDONG, json!(["water"]), json!("24/7")).await;
    let id = station["id"].as_i64().unwrap();
    let found = near(here.clone()).await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]["station"]["rating"],
        json!({"average": null, "count": 0})
    );

    let member = token(&s.app.wechat_member().await);
    let res = s
        .app
        .post(
            &format!("/api/v1/stations/{id}/reviews"),
            Some(&member),
            json!({"rating": 4}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let found = near(here.clone()).await;
    assert_eq!(
        found[0]["station"]["rating"],
        json!({"average": 4.0, "count": 1})
    );

    let res = s
        .app
        .post(
            &format!("/api/v1/stations/{id}/reports"),
            Some(&member),
            json!({"kind": "closed"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let report: Value = res.json().await.unwrap();
    let found = near(here.clone()).await;
    assert_eq!(found[0]["station"]["open_reports"]["closed"], 1);
    let res = s
        .app
        .post(
            &format!("/api/v1/admin/station-reports/{}/resolve", report["id"]),
            Some(&s.admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let found = near(here.clone()).await;
    assert_eq!(found[0]["station"]["open_reports"]["closed"], 0);

    // New hours and amenities, and 1 km east: the next search has all three.
    let moved = offset(JINDONG, 0.0, 1_000.0);
    let res = s
        .update(
            id,
            json!({
                "org_id": s.org, "name": "多湖街道驿站（新址）", "address": "金东区多湖街道东关路 1 号",
                "location": {"lat": moved.0, "lng": moved.1}, "amenities": ["water", "microwave"],
                "opening_hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "open": "08:00", "close": "09:00"}],
                "phone": "0579-82601234",
            }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let found = near(format!("{here}&amenities=microwave")).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["station"]["name"], "多湖街道驿站（新址）");
    let d = found[0]["distance_m"].as_f64().unwrap();
    assert!((d - 1_000.0).abs() < 1.0, "{d}");
    assert!(near(format!("{here}&open_now=true")).await.is_empty());

    s.remove(id).await;
    assert!(near(here.clone()).await.is_empty());
}

/// An org admin manages the stations of their own subtree: not a sibling's, not a parent's,
/// and a station cannot be moved out to another org.
#[tokio::test]
async fn org_admins_manage_their_subtree_only() {
    let s = &stations().await;
    let org = |name: &str, parent: Option<i64>| {
        let body = json!({"name": name, "kind": "grassroots", "parent_id": parent, "region_code": "330703"});
        async move {
            let res = s.app.post("/api/v1/admin/orgs", Some(&s.admin), body).await;
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
        }
    };
    let street = org("多湖街道总工会", Some(s.org)).await;
    let sibling = org("婺城区总工会", None).await;
    let district_admin = s.app.org_staff(&s.admin, s.org, "org_admin").await;
    let street_admin = s.app.org_staff(&s.admin, street, "org_admin").await;
    let sibling_admin = s.app.org_staff(&s.admin, sibling, "org_admin").await;
    let body = |org: i64, name: &str| {
        json!({
            "org_id": org, "name": name, "address": "金东区多湖街道光南路 588 号",
            "location": {"lat": JINDONG.0, "lng": JINDONG.1}, "amenities": ["water"],
            "opening_hours": "24/7", "phone": "0579-82601234",
        })
    };
    let created = |token: String, org: i64| {
        let body = body(org, "多湖驿站");
        let app = &s.app;
        async move {
            let res = app.post("/api/v1/admin/stations", Some(&token), body).await;
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
        }
    };
    let district_station = created(district_admin.clone(), s.org).await;
    let street_station = created(street_admin.clone(), street).await;
    let sibling_station = created(sibling_admin.clone(), sibling).await;
    let station = |id: i64| format!("/api/v1/admin/stations/{id}");

    // Creating or importing into another org: 403, nothing stored.
    for (token, org) in [
        (&sibling_admin, s.org),
        (&street_admin, s.org),
        (&street_admin, sibling),
    ] {
        let res = s
            .app
            .post("/api/v1/admin/stations", Some(token), body(org, "越权驿站"))
            .await;
        assert_eq!(res.status(), 403);
        let csv = format!(
            "org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone\n\
             {org},越权驿站,金东区一路,29.1,119.7,,water,24/7,,0579-82601234\n"
        );
        let res = s
            .app
            .client
            .post(s.app.url("/api/v1/admin/stations/import"))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    assert_eq!(s.stored().await, 2, "the district's and the street's");

    // Another org's station is not there for them: 404 on change, removal and reports.
    for (token, id) in [
        (&sibling_admin, district_station),
        (&street_admin, district_station),
        (&district_admin, sibling_station),
    ] {
        let res = s
            .app
            .request(
                Method::PUT,
                &station(id),
                Some(token),
                Some(body(s.org, "改名")),
            )
            .await;
        assert_eq!(res.status(), 404);
        let res = s
            .app
            .request(Method::DELETE, &station(id), Some(token), None)
            .await;
        assert_eq!(res.status(), 404);
    }
    // Nor can their own station be moved into an org they do not administer.
    let res = s
        .app
        .request(
            Method::PUT,
            &station(street_station),
            Some(&street_admin),
            Some(body(s.org, "搬走")),
        )
        .await;
    assert_eq!(res.status(), 403);
    let rider = token(&s.app.wechat_member().await);
    let report: Value = s
        .app
        .post(
            &format!("/api/v1/stations/{district_station}/reports"),
            Some(&rider),
            json!({"kind": "broken", "detail": "饮水机坏了"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let resolve = format!("/api/v1/admin/station-reports/{}/resolve", report["id"]);
    for token in [&sibling_admin, &street_admin] {
        let res = s.app.post(&resolve, Some(token), json!({})).await;
        assert_eq!(res.status(), 404);
        for path in [
            format!("/api/v1/admin/orgs/{}/stations", s.org),
            format!("/api/v1/admin/orgs/{}/stats/stations", s.org),
        ] {
            assert_eq!(s.app.get(&path, Some(token)).await.status(), 403, "{path}");
        }
    }
    let detail: Value = s
        .app
        .get(&format!("/api/v1/stations/{district_station}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["name"], "多湖驿站");
    assert_eq!(detail["reports"].as_array().unwrap().len(), 1);

    // Down the tree it works: the district's admin runs the street's station and reports.
    let res = s
        .app
        .request(
            Method::PUT,
            &station(street_station),
            Some(&district_admin),
            Some(body(street, "多湖街道驿站")),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = s.app.post(&resolve, Some(&district_admin), json!({})).await;
    assert_eq!(res.status(), 200);
    let stats: Value = s
        .app
        .get(
            &format!("/api/v1/admin/orgs/{}/stats/stations", s.org),
            Some(&district_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["stations"], 2, "{stats}");
}

/// A public page that shows more to members answers 401 to a token that is sent but bad,
/// so the app refreshes it instead of showing the signed-out view.
#[tokio::test]
async fn a_bad_token_on_a_public_page_is_401() {
    let s = stations().await;
    let id = s.create(JINDONG, json!([]), json!("24/7")).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/stations/{id}");
    let anonymous: Value = s.app.get(&path, None).await.json().await.unwrap();
    assert_eq!(anonymous["phone"], "057*****1234");
    problem(
        s.app.get(&path, Some("not-a-token")).await,
        401,
        "auth.invalid_token",
    )
    .await;
    let member = token(&s.app.wechat_member().await);
    let signed_in: Value = s.app.get(&path, Some(&member)).await.json().await.unwrap();
    assert_eq!(signed_in["phone"], "057982601234");
    problem(
        s.app
            .get("/api/v1/job-postings/1", Some("not-a-token"))
            .await,
        401,
        "auth.invalid_token",
    )
    .await;
}

/// An import sent again with its Idempotency-Key (a double click, a retry on a slow network)
/// stores its stations once, also when the copies arrive together and the file is larger
/// than a JSON body may be.
#[tokio::test]
async fn an_import_sent_twice_with_its_key_is_stored_once() {
    let s = stations().await;
    let csv = |rows: usize, name: &str| {
        let mut csv = String::from(
            "org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone\n",
        );
        for i in 0..rows {
            let lat = JINDONG.0 + i as f64 * 1e-5;
            csv.push_str(&format!(
                "{},{name}{i},金华市金东区多湖街道光南路 {i} 号,{lat:.6},119.6985,,water|charging,24/7,,0579-82601234\n",
                s.org
            ));
        }
        csv
    };
    let send = |key: &'static str, body: String| {
        s.app
            .client
            .post(s.app.url("/api/v1/admin/stations/import"))
            .bearer_auth(&s.admin)
            .header("content-type", "text/csv")
            .header("idempotency-key", key)
            .body(body)
            .send()
    };
    let count = || async {
        let stats: Value = s
            .app
            .get(
                &format!("/api/v1/admin/orgs/{}/stats/stations", s.org),
                Some(&s.admin),
            )
            .await
            .json()
            .await
            .unwrap();
        stats["stations"].as_i64().unwrap()
    };

    let first = send("import-1", csv(2, "驿站")).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("import-1", csv(2, "驿站")).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(count().await, 2);
    problem(
        send("import-1", csv(2, "另一站")).await.unwrap(),
        422,
        "idempotency.mismatch",
    )
    .await;

    // 3,000 rows (over 256 KiB), sent six times at once with one key.
    let big = csv(3_000, "批量驿站");
    assert!(big.len() > 256 * 1024);
    let answers =
        futures_util::future::join_all((0..6).map(|_| send("import-2", big.clone()))).await;
    let mut created = 0;
    for res in answers {
        let res = res.unwrap();
        match res.status().as_u16() {
            201 => {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["imported"], 3_000);
                created += 1;
            }
            409 => {}
            other => panic!("{other}: {}", res.text().await.unwrap()),
        }
    }
    assert!(created >= 1);
    assert_eq!(count().await, 3_002);
}
