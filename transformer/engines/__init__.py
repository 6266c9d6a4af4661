"""The engines: one per kind of job, each composing the stages for its SFCC output."""
