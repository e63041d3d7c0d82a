-- History 2 (a16ecd2): the router's P(local answer correct), as shown to the user.
ALTER TABLE questions ADD COLUMN local_confidence REAL;
