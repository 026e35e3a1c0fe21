-- A migration that always fails, for tests of the deploy's migration step:
-- run `backend migrate` with MIGRATIONS_DIR pointing at this directory and
-- it exits 1, naming this file. Its version is above any real one, so it is
-- pending on every database; it runs in a transaction and leaves nothing.
-- Never ship this directory in an image.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    RAISE EXCEPTION 'failing on purpose (testdata/migrations-fail-on-purpose)';
END
$$;
-- +goose StatementEnd
