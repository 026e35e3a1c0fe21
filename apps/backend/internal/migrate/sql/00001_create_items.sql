-- Items of the REST API. seq orders them by creation and is the key of
-- cursor paging (keyset: WHERE seq > $cursor ORDER BY seq); id is what
-- clients see, 32 lower-case hex characters made by the backend.
--
-- Roll forward only: there is no Down section. See apps/backend/README.md
-- for the expand/contract rule every migration follows.

-- +goose Up
SET LOCAL lock_timeout = '10s';

CREATE TABLE items (
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    id          text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT items_pkey PRIMARY KEY (id),
    CONSTRAINT items_seq_key UNIQUE (seq)
);
