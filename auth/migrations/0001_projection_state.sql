-- The last AUTH stream sequence each projection has applied. The projector writes it in the
-- same transaction as the change it stands for, so a redelivered event is skipped, never
-- applied twice.
CREATE TABLE projection_state (
    projection text PRIMARY KEY,
    last_sequence bigint NOT NULL CHECK (last_sequence >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
