DROP TABLE job_bookmarks;
DROP TABLE job_application_events;
DROP TABLE job_applications;
DROP TABLE job_postings;
