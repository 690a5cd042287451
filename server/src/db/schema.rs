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

diesel::table! {
    enrollments (id) {
        id -> BigInt,
        user_id -> BigInt,
        org_id -> BigInt,
        real_name -> Text,
        id_number_enc -> Text,
        id_key_version -> Integer,
        id_blind_index -> Text,
        id_masked -> Text,
        phone -> Text,
        employer -> Text,
        occupation -> Text,
        employment_form -> Text,
        consent_version -> Text,
        status -> Text,
        reject_reason -> Nullable<Text>,
        member_no -> Nullable<Text>,
        joined_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    enrollment_events (id) {
        id -> BigInt,
        enrollment_id -> BigInt,
        status -> Text,
        reason -> Nullable<Text>,
        org_id -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    member_no_counters (federation_id) {
        federation_id -> BigInt,
        last_value -> BigInt,
    }
}

diesel::table! {
    membership_transfers (id) {
        id -> BigInt,
        enrollment_id -> BigInt,
        from_org_id -> BigInt,
        to_org_id -> BigInt,
        reason -> Text,
        status -> Text,
        decision_reason -> Nullable<Text>,
        decided_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> BigInt,
        action -> Text,
        subject_type -> Text,
        subject_id -> BigInt,
        org_id -> Nullable<BigInt>,
        purpose -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(enrollments -> orgs (org_id));
diesel::joinable!(enrollment_events -> enrollments (enrollment_id));
diesel::joinable!(membership_transfers -> enrollments (enrollment_id));

diesel::table! {
    quizzes (id) {
        id -> BigInt,
        org_id -> BigInt,
        title -> Text,
        description -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        time_zone -> Text,
        questions_per_attempt -> Integer,
        time_limit_secs -> Integer,
        pass_score -> Integer,
        max_attempts_per_day -> Integer,
        draws_per_pass -> Integer,
        audience -> Text,
        status -> Text,
        published_at -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    quiz_questions (id) {
        id -> BigInt,
        quiz_id -> BigInt,
        kind -> Text,
        text -> Text,
        options -> Text,
        answer -> Text,
        points -> Integer,
        explanation -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    quiz_attempts (id) {
        id -> BigInt,
        quiz_id -> BigInt,
        user_id -> BigInt,
        status -> Text,
        layout -> Text,
        local_date -> Text,
        started_at -> Timestamp,
        deadline -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        score -> Nullable<Integer>,
        passed -> Nullable<Bool>,
        duration_ms -> Nullable<BigInt>,
        draws_granted -> Integer,
        answers -> Nullable<Text>,
    }
}

diesel::table! {
    quiz_answer_results (attempt_id, question_id) {
        attempt_id -> BigInt,
        question_id -> BigInt,
        quiz_id -> BigInt,
        correct -> Bool,
    }
}

diesel::table! {
    quiz_daily_attempts (quiz_id, user_id, local_date) {
        quiz_id -> BigInt,
        user_id -> BigInt,
        local_date -> Text,
        started -> Integer,
    }
}

diesel::table! {
    draw_chances (quiz_id, user_id) {
        quiz_id -> BigInt,
        user_id -> BigInt,
        granted -> Integer,
        used -> Integer,
    }
}

diesel::joinable!(quiz_questions -> quizzes (quiz_id));
diesel::joinable!(quiz_attempts -> quizzes (quiz_id));
diesel::joinable!(quiz_attempts -> users (user_id));
diesel::joinable!(quiz_answer_results -> quiz_questions (question_id));
diesel::joinable!(quizzes -> orgs (org_id));

diesel::table! {
    reading_campaigns (id) {
        id -> BigInt,
        org_id -> BigInt,
        title -> Text,
        description -> Text,
        starts_on -> Text,
        ends_on -> Text,
        target_days -> Integer,
        time_zone -> Text,
        makeup_cards -> Integer,
        min_note_chars -> Integer,
        min_minutes -> Integer,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reading_participants (campaign_id, user_id) {
        campaign_id -> BigInt,
        user_id -> BigInt,
        makeups_used -> Integer,
        joined_at -> Timestamp,
    }
}

diesel::table! {
    reading_checkins (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        user_id -> BigInt,
        day -> Text,
        book_title -> Text,
        minutes -> Integer,
        note -> Text,
        makeup -> Bool,
        created_at -> Timestamp,
    }
}

diesel::joinable!(reading_checkins -> users (user_id));
diesel::joinable!(reading_participants -> users (user_id));

diesel::table! {
    job_postings (id) {
        id -> BigInt,
        org_id -> BigInt,
        title -> Text,
        employer -> Text,
        category -> Text,
        district -> Text,
        address -> Text,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        salary_min -> Integer,
        salary_max -> Integer,
        headcount -> Integer,
        employment_type -> Text,
        description -> Text,
        contact_phone -> Text,
        valid_until -> Timestamp,
        status -> Text,
        published_at -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    job_applications (id) {
        id -> BigInt,
        posting_id -> BigInt,
        user_id -> BigInt,
        message -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    job_application_events (id) {
        id -> BigInt,
        application_id -> BigInt,
        status -> Text,
        actor_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    job_bookmarks (posting_id, user_id) {
        posting_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(job_applications -> job_postings (posting_id));
diesel::joinable!(job_applications -> users (user_id));
diesel::joinable!(job_application_events -> job_applications (application_id));
diesel::joinable!(job_postings -> orgs (org_id));
diesel::joinable!(job_bookmarks -> job_postings (posting_id));

diesel::table! {
    volunteer_activities (id) {
        id -> BigInt,
        org_id -> BigInt,
        title -> Text,
        description -> Text,
        address -> Text,
        lat -> Double,
        lng -> Double,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        confirmed -> Integer,
        signup_deadline -> Timestamp,
        code_secret -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    volunteer_signups (id) {
        id -> BigInt,
        activity_id -> BigInt,
        user_id -> BigInt,
        status -> Text,
        queued_at -> Timestamp,
        checkin_at -> Nullable<Timestamp>,
        checkout_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    volunteer_hours (id) {
        id -> BigInt,
        activity_id -> BigInt,
        user_id -> BigInt,
        minutes -> Integer,
        kind -> Text,
        note -> Text,
        actor_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    volunteer_certificates (code) {
        code -> Text,
        user_id -> BigInt,
        total_minutes -> Integer,
        issued_at -> Timestamp,
    }
}

diesel::table! {
    prizes (id) {
        id -> BigInt,
        quiz_id -> BigInt,
        name -> Text,
        kind -> Text,
        quantity -> Integer,
        remaining -> Integer,
        probability_ppm -> Integer,
        max_per_user -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    draws (id) {
        id -> BigInt,
        quiz_id -> BigInt,
        user_id -> BigInt,
        idempotency_key -> Text,
        picked_prize_id -> Nullable<BigInt>,
        prize_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    prize_wins (id) {
        id -> BigInt,
        draw_id -> BigInt,
        quiz_id -> BigInt,
        prize_id -> BigInt,
        user_id -> BigInt,
        redemption_code -> Text,
        won_at -> Timestamp,
        redeemed_at -> Nullable<Timestamp>,
        redeemed_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    raffles (id) {
        id -> BigInt,
        org_id -> BigInt,
        title -> Text,
        pool_kind -> Text,
        pool_ref_id -> BigInt,
        min_minutes -> Integer,
        winners -> Integer,
        draw_at -> Timestamp,
        seed_sealed -> Text,
        seed_commitment -> Text,
        status -> Text,
        seed -> Nullable<Text>,
        pool_size -> Nullable<Integer>,
        pool_digest -> Nullable<Text>,
        drawn_at -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    raffle_entries (raffle_id, user_id) {
        raffle_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    raffle_winners (raffle_id, place) {
        raffle_id -> BigInt,
        place -> Integer,
        user_id -> BigInt,
    }
}

diesel::table! {
    bench_rows (id) {
        id -> BigInt,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    stations (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        address -> Text,
        lat -> Double,
        lng -> Double,
        amenities -> Integer,
        opening_hours -> Text,
        time_zone -> Text,
        phone -> Text,
        active -> Bool,
        rating_sum -> BigInt,
        rating_count -> BigInt,
        open_closed -> Integer,
        open_broken -> Integer,
        open_other -> Integer,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    station_visits (id) {
        id -> BigInt,
        station_id -> BigInt,
        user_id -> BigInt,
        day -> Text,
        distance_m -> Double,
        created_at -> Timestamp,
    }
}

diesel::table! {
    station_reviews (station_id, user_id) {
        station_id -> BigInt,
        user_id -> BigInt,
        rating -> Integer,
        comment -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    station_reports (id) {
        id -> BigInt,
        station_id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        detail -> Text,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<BigInt>,
    }
}

diesel::joinable!(prize_wins -> prizes (prize_id));
diesel::joinable!(prize_wins -> quizzes (quiz_id));
diesel::joinable!(raffle_winners -> raffles (raffle_id));

diesel::joinable!(volunteer_signups -> volunteer_activities (activity_id));
diesel::joinable!(volunteer_hours -> volunteer_activities (activity_id));
diesel::joinable!(volunteer_activities -> orgs (org_id));
diesel::joinable!(stations -> orgs (org_id));
diesel::joinable!(station_visits -> stations (station_id));
diesel::joinable!(station_reports -> stations (station_id));

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    users,
    user_roles,
    refresh_tokens,
    sms_codes,
    enrollments,
    enrollment_events,
    member_no_counters,
    membership_transfers,
    audit_log,
    quizzes,
    quiz_questions,
    quiz_attempts,
    quiz_answer_results,
    quiz_daily_attempts,
    draw_chances,
    reading_campaigns,
    reading_participants,
    reading_checkins,
    job_postings,
    job_applications,
    job_application_events,
    job_bookmarks,
    volunteer_activities,
    volunteer_signups,
    volunteer_hours,
    volunteer_certificates,
    prizes,
    draws,
    prize_wins,
    raffles,
    raffle_entries,
    raffle_winners,
    bench_rows,
    stations,
    station_visits,
    station_reviews,
    station_reports,
);
