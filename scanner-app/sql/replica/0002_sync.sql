-- Sync: the server's judgement of every device's check-ins, conflicts included.
ALTER TABLE check_ins ADD COLUMN server_reason TEXT;
ALTER TABLE check_ins ADD COLUMN conflict INTEGER NOT NULL DEFAULT 0;
CREATE INDEX check_ins_conflict ON check_ins (conflict) WHERE conflict = 1;
