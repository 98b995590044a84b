"""Operations: backups and restore drills, sign-in protection, customer data portability and
erasure, log scrubbing, upload checks and database metrics (docs/operations.md)."""
