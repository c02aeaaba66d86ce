-- What each device says it still holds: the check-ins in its queue not uploaded yet, as it
-- reported at its last pull (NULL: never reported, an older app). Organizers see it in the
-- device list; readiness flags a device that still holds any.
ALTER TABLE devices ADD COLUMN queued_check_ins INTEGER;
