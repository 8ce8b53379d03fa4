-- 009_blob_gc: blobs no row refers to any more (refcount 0: a message
-- expunged, a queue entry deleted), found cheaply by qmgr's collector.
CREATE INDEX blobs_unused_idx ON blobs (id) WHERE refcount = 0;
