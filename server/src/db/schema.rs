// Hand-kept, portable types only (BigInt, Integer, Text, Bool, Double, Timestamp as naive
// UTC) so one schema serves Postgres and SQLite.

diesel::table! {
    orgs (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        parent_id -> Nullable<BigInt>,
        region_code -> Text,
        path -> Text,
        depth -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        nickname -> Text,
        avatar_url -> Nullable<Text>,
        phone -> Nullable<Text>,
        wechat_openid -> Nullable<Text>,
        username -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_roles (id) {
        id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        org_id -> Nullable<BigInt>,
        granted_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        family -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sms_codes (id) {
        id -> BigInt,
        phone_hash -> Text,
        code_hash -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> orgs (org_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(orgs, users, user_roles, refresh_tokens, sms_codes);
