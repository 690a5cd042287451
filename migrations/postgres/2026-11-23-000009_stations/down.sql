DROP TABLE station_reports;
DROP TABLE station_reviews;
DROP TABLE station_visits;
DROP TABLE stations;
