-- A message is claimed by the instance that sends it, for a lease: another
-- instance (a new leader after the lock's connection was cut) does not send
-- it again meanwhile, and only the claimant marks it sent.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until timestamptz;
