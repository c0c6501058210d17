-- A person's events by status, source, date and CVX: the matcher's shot
-- history (`Tx::load_shots`) reads only this index, and the re-send check
-- for a dose without ORC-3 (`Tx::find_active_events_like`) finds its few
-- rows in it instead of reading every event row of the person. It serves
-- every lookup by patient_id the narrower index did.
CREATE INDEX vaccination_event_patient_active
    ON vaccination_event(patient_id, status, facility_code, administered_date, cvx, completion);
DROP INDEX vaccination_event_patient;
