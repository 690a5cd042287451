//! Reading a leaderboard page from the hot store: the top entries with their members'
//! nicknames, and the caller's own place. Each feature decodes its own values.

use std::collections::HashMap;

use crate::AppState;
use crate::domain::UserId;
use crate::error::ApiResult;
use crate::users::PublicUser;

pub struct Row {
    /// 1-based.
    pub rank: u64,
    pub user: PublicUser,
    pub value: f64,
}

pub struct Standing {
    pub rank: u64,
    pub value: f64,
}

/// The first `limit` entries of the sorted set at `key` and `me`'s place in it.
pub async fn page(
    state: &AppState,
    key: &str,
    limit: i64,
    me: UserId,
) -> ApiResult<(Vec<Row>, Option<Standing>)> {
    let top = state
        .hot
        .ztop(key, u64::try_from(limit).unwrap_or(20))
        .await?;
    let mine = state.hot.zrank(key, &me.0.to_string()).await?;
    let ids: Vec<i64> = top.iter().filter_map(|r| r.member.parse().ok()).collect();
    let names: HashMap<i64, String> = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(crate::auth::store::nicknames(c, &ids)?) })
        .await?
        .into_iter()
        .collect();
    let rows = top
        .into_iter()
        .filter_map(|r| {
            let id: i64 = r.member.parse().ok()?;
            let nickname = names.get(&id).cloned().unwrap_or_default();
            Some(Row {
                rank: r.rank + 1,
                user: PublicUser {
                    id: UserId(id),
                    nickname,
                },
                value: r.score,
            })
        })
        .collect();
    Ok((
        rows,
        mine.map(|r| Standing {
            rank: r.rank + 1,
            value: r.score,
        }),
    ))
}
