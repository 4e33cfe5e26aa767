-- The auditors' filters: a unit's dossiers of a period (by receipt, due or
-- finish date) are found through these instead of reading every dossier.
CREATE INDEX dossiers_unit_received ON dossiers (unit_code, received_at);
CREATE INDEX dossiers_field_received ON dossiers (field_code, received_at);
CREATE INDEX dossiers_received ON dossiers (received_at);
