-- A session's IANA time zone (checked against the bundled time-zone database when saved): its
-- start time is shown there on pages, posters and calendar files, with the viewer's own time
-- beside it where they differ.
ALTER TABLE live_sessions ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
