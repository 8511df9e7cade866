"""Operations: schedules and the scheduler, `cdpkit run`, alerts, status, the HTML report,
and `audiences diff` for pull requests. See docs/operations.md."""
