-- A private rehearsal (issue 30): the session stays `scheduled` for shoppers while its team
-- runs the show for itself. The studio and the rules read it as the `rehearsal` status
-- (`repo::shopping::session_status`); going live or stopping discards what it did.
ALTER TABLE live_sessions ADD COLUMN rehearsal BIGINT NOT NULL DEFAULT 0;
