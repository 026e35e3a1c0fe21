-- The database enforces the API's field limits too (internal/items:
-- MaxNameLen, MaxDescriptionLen, in characters), for every writer.
--
-- Expand/contract: the running version already validates these limits, so
-- no row it writes can break them; rows that do break them (written by
-- hand) make this migration fail and roll back, and the database stays at
-- version 1. On a large table, split this into ADD CONSTRAINT ... NOT VALID
-- and a later VALIDATE CONSTRAINT migration, so that the table is not
-- locked while every row is checked.

-- +goose Up
SET LOCAL lock_timeout = '10s';

ALTER TABLE items
    ADD CONSTRAINT items_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    ADD CONSTRAINT items_description_length CHECK (char_length(description) <= 1000);
