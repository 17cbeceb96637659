-- Rate-limit counters are worth nothing after a database crash (the budget just starts over), so
-- they skip the write-ahead log: counting a hit then costs no WAL flush, which matters for a
-- route that counts outside a transaction of its own (POST /v1/feedback without an
-- Idempotency-Key). A crash empties the table; a clean restart keeps it.
ALTER TABLE rate_limits SET UNLOGGED;
