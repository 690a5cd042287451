DROP TABLE reading_checkins;
DROP TABLE reading_participants;
DROP TABLE reading_campaigns;
