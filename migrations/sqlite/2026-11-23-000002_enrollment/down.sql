DROP TABLE audit_log;
DROP TABLE membership_transfers;
DROP TABLE member_no_counters;
DROP TABLE enrollment_events;
DROP TABLE enrollments;
