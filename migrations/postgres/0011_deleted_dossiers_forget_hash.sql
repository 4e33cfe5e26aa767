-- A deleted dossier keeps no content hash (the sync clears it when marking
-- the deletion): sent again, even exactly as it was, it is restored rather
-- than found "unchanged" and left deleted. The ones deleted before this.
UPDATE dossiers SET content_hash = '' WHERE deleted = 1;
