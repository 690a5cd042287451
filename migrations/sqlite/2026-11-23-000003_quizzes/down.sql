DROP TABLE draw_chances;
DROP TABLE quiz_daily_attempts;
DROP TABLE quiz_answer_results;
DROP TABLE quiz_attempts;
DROP TABLE quiz_questions;
DROP TABLE quizzes;
