DROP TABLE volunteer_certificates;
DROP TABLE volunteer_hours;
DROP TABLE volunteer_signups;
DROP TABLE volunteer_activities;
