DROP FUNCTION record_draws(json);
