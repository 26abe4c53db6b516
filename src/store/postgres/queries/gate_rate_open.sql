-- regulation::RateSteps::open (migration 017's gate_rate_open).
SELECT opened, more FROM spindle.gate_rate_open($1, $2, $3)
