//! Demo rest stations: 金东区's 19 stations and 乐陵's 市中街道 station (GCJ-02, plausible
//! positions, amenities and hours), and a national-scale synthetic set for load tests.

use diesel::QueryResult;
use rand::Rng;

use crate::clock::Clock;
use crate::db::DbConn;
use crate::orgs::rules::OrgKind;
use crate::orgs::store::{NewOrg, insert_org, org_by_name};
use crate::stations::rules::{Amenity, Hours};
use crate::stations::store::{self, NewStation};

/// (name, address, lat, lng, amenities, hours)
type DemoStation = (
    &'static str,
    &'static str,
    f64,
    f64,
    &'static str,
    &'static str,
);

const JINDONG: &[DemoStation] = &[
    (
        "多湖街道户外劳动者服务站",
        "金东区多湖街道光南路 588 号",
        29.0885,
        119.6912,
        "charging|water|microwave|rest_area|restroom|wifi|cooling|heating",
        "24/7",
    ),
    (
        "东孝街道户外劳动者服务站",
        "金东区东孝街道孝顺路 99 号",
        29.1126,
        119.7078,
        "charging|water|microwave|first_aid|rest_area",
        "1-7 07:00-22:00",
    ),
    (
        "金东区总工会职工驿站",
        "金东区李渔东路 288 号",
        29.0991,
        119.6985,
        "charging|water|microwave|first_aid|rest_area|restroom|wifi|books",
        "1-5 08:00-20:00; 6,7 09:00-18:00",
    ),
    (
        "金华万达广场骑手驿站",
        "金东区李渔路 1260 号",
        29.0929,
        119.6858,
        "charging|water|microwave|rest_area|wifi|cooling",
        "1-7 10:00-02:00",
    ),
    (
        "金东区人民医院爱心驿站",
        "金东区东关路 128 号",
        29.1048,
        119.6942,
        "water|first_aid|rest_area|restroom",
        "24/7",
    ),
    (
        "金东新区快递驿站",
        "金东区丹溪路 1171 号",
        29.0872,
        119.7101,
        "charging|water|air_pump|rest_area",
        "1-6 08:00-21:00",
    ),
    (
        "傅村镇户外劳动者驿站",
        "金东区傅村镇傅村街 36 号",
        29.2163,
        119.8152,
        "charging|water|microwave|restroom",
        "1-7 07:30-19:30",
    ),
    (
        "孝顺镇户外劳动者驿站",
        "金东区孝顺镇中心街 118 号",
        29.1565,
        119.8211,
        "charging|water|microwave|first_aid|restroom|heating",
        "1-7 07:00-21:00",
    ),
    (
        "曹宅镇户外劳动者驿站",
        "金东区曹宅镇曹宅大街 52 号",
        29.1783,
        119.7682,
        "water|microwave|rest_area|restroom",
        "1-7 08:00-18:00",
    ),
    (
        "澧浦镇户外劳动者驿站",
        "金东区澧浦镇澧浦街 20 号",
        29.0312,
        119.8247,
        "charging|water|rest_area|restroom|books",
        "1-7 08:00-18:00",
    ),
    (
        "岭下镇户外劳动者驿站",
        "金东区岭下镇岭下街 8 号",
        29.0594,
        119.9203,
        "water|microwave|rest_area|restroom",
        "1-5 08:00-17:30",
    ),
    (
        "江东镇户外劳动者驿站",
        "金东区江东镇江东路 66 号",
        29.0908,
        119.7956,
        "charging|water|microwave|air_pump",
        "1-7 07:00-20:00",
    ),
    (
        "塘雅镇户外劳动者驿站",
        "金东区塘雅镇塘雅路 15 号",
        29.1384,
        119.7513,
        "water|rest_area|restroom|heating|cooling",
        "1-7 08:00-19:00",
    ),
    (
        "赤松镇户外劳动者驿站",
        "金东区赤松镇二仙桥路 3 号",
        29.1045,
        119.7318,
        "charging|water|first_aid|rest_area",
        "1-7 07:00-21:00",
    ),
    (
        "源东乡户外劳动者驿站",
        "金东区源东乡源东街 1 号",
        29.0835,
        119.8632,
        "water|rest_area|restroom",
        "1-7 08:00-17:00",
    ),
    (
        "金华站东广场货车司机之家",
        "金东区金华火车站东广场",
        29.1139,
        119.6689,
        "charging|water|microwave|rest_area|restroom|wifi|air_pump",
        "24/7",
    ),
    (
        "金东开发区夜间驿站",
        "金东区金港大道 2001 号",
        29.0781,
        119.7289,
        "charging|water|microwave|rest_area|heating",
        "1-7 20:00-06:00",
    ),
    (
        "多湖中央商务区外卖骑手驿站",
        "金东区多湖街道宾虹东路 1000 号",
        29.0823,
        119.6978,
        "charging|water|microwave|rest_area|cooling|wifi",
        "1-7 09:00-23:00",
    ),
    (
        "金东区环卫工人休息点",
        "金东区东湄路 255 号",
        29.0963,
        119.7167,
        "water|microwave|rest_area|restroom|heating|cooling",
        "1-7 04:30-20:00",
    ),
];

const LAOLING: DemoStation = (
    "乐陵市市中街道户外劳动者驿站",
    "乐陵市市中街道振兴大街 176 号",
    37.7309,
    117.2296,
    "charging|water|microwave|first_aid|rest_area|restroom|wifi|books|heating|cooling",
    "24/7",
);

fn row(
    org_id: i64,
    by: i64,
    s: &DemoStation,
    phone: String,
    now: chrono::NaiveDateTime,
) -> NewStation {
    let (name, address, lat, lng, amenities, hours) = *s;
    NewStation {
        org_id,
        name: name.to_owned(),
        address: address.to_owned(),
        lat,
        lng,
        amenities: Amenity::parse_list("amenities", amenities.split('|')).unwrap_or(0),
        opening_hours: Hours::from_text("opening_hours", hours)
            .unwrap_or(Hours::Always)
            .to_stored(),
        time_zone: "Asia/Shanghai".to_owned(),
        phone,
        active: true,
        created_by: by,
        created_at: now,
        updated_at: now,
    }
}

/// The demo stations, once (skipped when the org already has stations).
pub fn seed(conn: &mut DbConn, clock: &dyn Clock, admin: i64) -> QueryResult<usize> {
    let now = clock.now_naive();
    let mut added = 0;
    for (org_name, area_code, stations) in [
        ("金华市金东区总工会", "0579", JINDONG),
        ("乐陵市总工会", "0534", std::slice::from_ref(&LAOLING)),
    ] {
        let Some(org) = org_by_name(conn, None, org_name)? else {
            continue;
        };
        if !store::list_of_subtree(conn, &org.path, None, 1)?.is_empty() {
            continue;
        }
        let rows: Vec<NewStation> = (1..)
            .zip(stations)
            .map(|(i, s)| row(org.id, admin, s, format!("{area_code}8260{i:04}"), now))
            .collect();
        added += store::insert_stations(conn, &rows)?.len();
    }
    Ok(added)
}

/// City centres (GCJ-02) and their weight in the synthetic national set.
const CITIES: &[(f64, f64, u32)] = &[
    (39.9042, 116.4074, 10),
    (31.2304, 121.4737, 10),
    (23.1291, 113.2644, 8),
    (22.5431, 114.0579, 8),
    (30.5728, 104.0668, 7),
    (30.2741, 120.1551, 7),
    (29.5630, 106.5516, 6),
    (34.3416, 108.9398, 5),
    (30.5928, 114.3055, 6),
    (32.0603, 118.7969, 6),
    (39.3434, 117.3616, 5),
    (36.0671, 120.3826, 4),
    (36.6512, 117.1201, 4),
    (34.7466, 113.6254, 5),
    (28.2282, 112.9388, 4),
    (26.0745, 119.2965, 3),
    (24.4798, 118.0894, 3),
    (41.8057, 123.4315, 4),
    (45.8038, 126.5349, 3),
    (43.8171, 125.3235, 3),
    (38.0428, 114.5149, 3),
    (37.8706, 112.5489, 3),
    (25.0389, 102.7183, 3),
    (26.6470, 106.6302, 2),
    (22.8170, 108.3665, 2),
    (20.0440, 110.1999, 1),
    (36.0611, 103.8343, 2),
    (43.8256, 87.6168, 2),
    (40.8424, 111.7490, 1),
    (38.4872, 106.2309, 1),
    (36.6171, 101.7782, 1),
    (29.6520, 91.1721, 1),
    (28.6820, 115.8579, 3),
    (31.8206, 117.2272, 3),
    (29.0792, 119.6474, 2),
    (37.4355, 116.3575, 1),
];

/// Adds synthetic stations until `org` "全国驿站（压测数据）" holds `total`: clustered
/// around city centres like real ones, with mixed amenities and hours (some overnight).
pub fn seed_national(
    conn: &mut DbConn,
    clock: &dyn Clock,
    admin: i64,
    total: usize,
) -> QueryResult<usize> {
    let now = clock.now_naive();
    let name = "全国驿站（压测数据）";
    let org = match org_by_name(conn, None, name)? {
        Some(org) => org,
        None => insert_org(
            conn,
            &NewOrg {
                name: name.to_owned(),
                kind: OrgKind::Federation.as_str(),
                parent_id: None,
                region_code: "100000".to_owned(),
                created_at: now,
            },
        )?,
    };
    let have = {
        use crate::db::schema::stations;
        use diesel::prelude::*;
        stations::table
            .filter(stations::org_id.eq(org.id))
            .count()
            .get_result::<i64>(conn)? as usize
    };
    let weights: u32 = CITIES.iter().map(|c| c.2).sum();
    let hours = [
        "24/7",
        "1-7 07:00-22:00",
        "1-5 08:00-20:00; 6,7 09:00-18:00",
        "1-7 20:00-06:00",
        "1-7 10:00-02:00",
    ];
    let mut rng = rand::rng();
    let mut added = 0;
    while have + added < total {
        let n = (total - have - added).min(5_000);
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let mut pick = rng.random_range(0..weights);
            let city = CITIES
                .iter()
                .find(|c| {
                    if pick < c.2 {
                        true
                    } else {
                        pick -= c.2;
                        false
                    }
                })
                .unwrap_or(&CITIES[0]);
            // Denser near the centre: about 70% within 15 km, a tail to 40 km.
            let spread = |rng: &mut rand::rngs::ThreadRng| {
                (0..3).map(|_| rng.random_range(-0.15..0.15)).sum::<f64>()
            };
            let lat = city.0 + spread(&mut rng);
            let lng = city.1 + spread(&mut rng) / city.0.to_radians().cos();
            let number = have + added + i + 1;
            let mask = rng.random_range(1..(1 << Amenity::ALL.len()));
            rows.push(NewStation {
                org_id: org.id,
                name: format!("户外劳动者驿站 {number:06}"),
                address: format!("压测地址 {number}"),
                lat,
                lng,
                amenities: mask,
                opening_hours: Hours::from_text("h", hours[number % hours.len()])
                    .unwrap_or(Hours::Always)
                    .to_stored(),
                time_zone: "Asia/Shanghai".to_owned(),
                phone: format!("0{:010}", 1_000_000_000 + number),
                active: true,
                created_by: admin,
                created_at: now,
                updated_at: now,
            });
        }
        added += store::insert_stations(conn, &rows)?.len();
    }
    Ok(added)
}
