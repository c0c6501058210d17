//! Record-linkage operations of a transaction (migration 0002): the
//! blocking-key index, merge history (`patient.merged_into` plus
//! `patient_merge`), the review queue of possible matches and the human
//! "different people" decisions. The store only keeps these; the registry
//! decides (matching, access, audit).
//!
//! Merges are non-destructive: an absorbed patient keeps every row it owns
//! (demographic versions, events, observations, identifiers, blocking keys)
//! and only gets `merged_into` pointing at its survivor. A cluster is a
//! survivor (its *root*, `merged_into IS NULL`) with everything merged into it,
//! transitively; unmerging clears one `merged_into`, which restores exactly
//! the records as they were.

use immunis_model::PatientId;

use crate::tx::{int, opt_int, opt_text, text};
use crate::{now_millis, Result, StoreError, Tx, Value};

/// A merge as recorded (`patient_merge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRecord {
    pub id: i64,
    pub survivor: PatientId,
    pub absorbed: PatientId,
    /// "auto" (the matcher) or "human".
    pub method: String,
    pub actor: String,
    pub merged_at: i64,
    pub unmerged_at: Option<i64>,
    pub unmerged_by: Option<String>,
}

/// Where a review item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    Pending,
    /// Resolved by a person as the same person (merged).
    Same,
    /// Resolved by a person as different people (recorded non-match).
    Different,
    /// No longer relevant (the two records were merged or separated by
    /// another decision).
    Withdrawn,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Same => "same",
            ReviewStatus::Different => "different",
            ReviewStatus::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> ReviewStatus {
        match s {
            "same" => ReviewStatus::Same,
            "different" => ReviewStatus::Different,
            "withdrawn" => ReviewStatus::Withdrawn,
            _ => ReviewStatus::Pending,
        }
    }
}

/// A possible match to put on the review queue.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub patient_a: PatientId,
    pub patient_b: PatientId,
    /// Match score in thousandths of a bit (log2 likelihood ratio).
    pub score_millibits: i64,
    /// The matcher's per-field explanation, one `field<TAB>level<TAB>detail<TAB>weight` line per field.
    pub explanation: String,
    /// What found the pair: "ingest", "dedup", ...
    pub origin: String,
}

/// A review item as stored.
#[derive(Debug, Clone)]
pub struct ReviewRecord {
    pub id: i64,
    pub patient_a: PatientId,
    pub patient_b: PatientId,
    pub score_millibits: i64,
    pub explanation: String,
    pub origin: String,
    pub status: ReviewStatus,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
}

/// A human decision about two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDecision {
    /// Different people: the automatic matcher must never link them.
    Different,
}

impl LinkDecision {
    fn as_str(self) -> &'static str {
        match self {
            LinkDecision::Different => "different",
        }
    }
}

fn ordered(a: PatientId, b: PatientId) -> (i64, i64) {
    if a.0 <= b.0 {
        (a.0, b.0)
    } else {
        (b.0, a.0)
    }
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ids(rows: &[Vec<Value>]) -> Vec<PatientId> {
    rows.iter()
        .filter_map(|r| opt_int(r, 0))
        .map(PatientId)
        .collect()
}

/// Most rows one candidate probe reads before it falls back to per-key
/// probes with a cap (protects lookups from a giant block).
const PROBE_ROW_LIMIT: usize = 20_000;

/// Rows per multi-row INSERT.
const INSERT_CHUNK: usize = 200;

impl<'a> Tx<'a> {
    // ---- blocking-key index ---------------------------------------------

    /// Replaces a person's blocking keys (duplicates ignored).
    pub fn replace_blocking_keys(&mut self, id: PatientId, keys: &[i64]) -> Result<()> {
        // Only the difference is written: a demographic update rarely changes
        // the keys, and each key row is a random B-tree insert (a dirty page
        // in the commit) in the (key, patient_id) index.
        let mut wanted = keys.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let held = self.blocking_keys_of(id)?;
        let gone: Vec<i64> = held
            .iter()
            .filter(|k| wanted.binary_search(k).is_err())
            .copied()
            .collect();
        let new: Vec<i64> = wanted
            .iter()
            .filter(|k| held.binary_search(k).is_err())
            .copied()
            .collect();
        for chunk in gone.chunks(INSERT_CHUNK) {
            let sql = format!(
                "DELETE FROM patient_blocking_key WHERE patient_id = $1 AND key IN ({})",
                placeholders(2, chunk.len())
            );
            let mut params = Vec::with_capacity(chunk.len() + 1);
            params.push(Value::Int(id.0));
            params.extend(chunk.iter().map(|k| Value::Int(*k)));
            self.defer(&sql, params)?;
        }
        self.add_blocking_keys(id, &new)
    }

    /// Bulk loading: holds a new person's blocking keys unindexed (one
    /// append per person) until [`Tx::index_staged_blocking_keys`]. Until
    /// then the matcher cannot find the staged people: a bulk load runs
    /// before the registry takes submissions.
    pub fn stage_blocking_keys(&mut self, id: PatientId, keys: &[i64]) -> Result<()> {
        self.insert_keys("blocking_key_stage", id, keys)
    }

    /// Moves the staged keys into the blocking index in key order (the
    /// index grows at its end instead of at random pages) and empties the
    /// stage; returns how many keys moved. Keys already indexed are kept
    /// once.
    pub fn index_staged_blocking_keys(&mut self) -> Result<u64> {
        self.index_staged_blocking_keys_part(0, 1)
    }

    /// [`Tx::index_staged_blocking_keys`] for the `part`-th of `parts`
    /// equal slices of the keys' hash bits, so a load of millions of people can
    /// index in several transactions: each one's journal holds only its
    /// slice, and the stage rows it deletes free pages the next slice
    /// reuses. Run parts 0 to `parts - 1` in order: part 0 finds out
    /// whether this is an initial load, the last part finishes the index.
    pub fn index_staged_blocking_keys_part(&mut self, part: u32, parts: u32) -> Result<u64> {
        let parts = parts.max(1);
        let part = part.min(parts - 1);
        // Into an empty index (an initial load), the per-person index is
        // built afterwards from the finished table: filled in key order, it
        // would take every row at a random place.
        if part == 0
            && self
                .conn
                .query("SELECT 1 FROM patient_blocking_key LIMIT 1", &[])?
                .is_empty()
        {
            self.conn
                .execute("DROP INDEX IF EXISTS patient_blocking_key_patient", &[])?;
        }
        // The slice [lo, hi) of the keys' low 56 bits: a packed blocking key
        // is its kind in the top 8 bits over 56 bits of hash, so slices of
        // the whole i64 range would put nearly every key in one slice; the
        // hash bits spread them evenly. The last slice is closed.
        const LOW: i64 = 0x00FF_FFFF_FFFF_FFFF;
        let bound = |p: u32| {
            i64::try_from((i128::from(LOW) + 1) * i128::from(p) / i128::from(parts)).unwrap_or(LOW)
        };
        let (lo, hi) = (bound(part), bound(part + 1));
        let last = part + 1 == parts;
        let slice = if last {
            format!("(key & {LOW}) >= $1")
        } else {
            format!("(key & {LOW}) >= $1 AND (key & {LOW}) < $2")
        };
        let params: Vec<Value> = if last {
            vec![Value::Int(lo)]
        } else {
            vec![Value::Int(lo), Value::Int(hi)]
        };
        // `WHERE`: SQLite needs one to parse an upsert on INSERT … SELECT.
        let moved = self.conn.execute(
            &format!(
                "INSERT INTO patient_blocking_key (key, patient_id) \
                 SELECT key, patient_id FROM blocking_key_stage WHERE {slice} \
                 ORDER BY key, patient_id ON CONFLICT DO NOTHING"
            ),
            &params,
        )?;
        if last {
            self.conn.execute(
                "CREATE INDEX IF NOT EXISTS patient_blocking_key_patient \
                 ON patient_blocking_key(patient_id)",
                &[],
            )?;
        }
        if parts == 1 {
            self.conn.execute("DELETE FROM blocking_key_stage", &[])?;
        } else {
            self.conn.execute(
                &format!("DELETE FROM blocking_key_stage WHERE {slice}"),
                &params,
            )?;
        }
        Ok(moved)
    }

    /// Adds keys for a person known to have none yet (backfill).
    pub fn add_blocking_keys(&mut self, id: PatientId, keys: &[i64]) -> Result<()> {
        self.insert_keys("patient_blocking_key", id, keys)
    }

    /// Inserts a person's keys (deduplicated) into `table`, a few hundred
    /// rows per statement.
    fn insert_keys(&mut self, table: &str, id: PatientId, keys: &[i64]) -> Result<()> {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        for chunk in keys.chunks(INSERT_CHUNK) {
            let mut sql = format!("INSERT INTO {table} (patient_id, key) VALUES ");
            let mut params = Vec::with_capacity(chunk.len() + 1);
            params.push(Value::Int(id.0));
            for (i, k) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("($1, ${})", i + 2));
                params.push(Value::Int(*k));
            }
            self.defer(&sql, params)?;
        }
        Ok(())
    }

    /// A person's indexed blocking keys, ascending.
    pub fn blocking_keys_of(&mut self, id: PatientId) -> Result<Vec<i64>> {
        let rows = self.conn.query(
            "SELECT key FROM patient_blocking_key WHERE patient_id = $1 ORDER BY key",
            &[Value::Int(id.0)],
        )?;
        Ok(rows.iter().filter_map(|r| opt_int(r, 0)).collect())
    }

    /// People sharing at least one of `keys`, skipping any key held by more
    /// than `max_block` people (an oversized block: a shared clinic phone, a
    /// placeholder identifier). Returns the distinct ids, those sharing the
    /// most keys first (ties by id), and how many keys were skipped as
    /// oversized.
    pub fn blocking_candidates(
        &mut self,
        keys: &[i64],
        max_block: usize,
    ) -> Result<(Vec<PatientId>, usize)> {
        if keys.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let sql = format!(
            "SELECT key, patient_id FROM patient_blocking_key WHERE key IN ({}) LIMIT {}",
            placeholders(1, keys.len()),
            PROBE_ROW_LIMIT + 1
        );
        let params: Vec<Value> = keys.iter().map(|k| Value::Int(*k)).collect();
        let rows = self.conn.query(&sql, &params)?;
        let mut pairs: Vec<(i64, i64)> = if rows.len() <= PROBE_ROW_LIMIT {
            rows.iter().map(|r| (int(r, 0), int(r, 1))).collect()
        } else {
            // Some block is huge: probe key by key with a cap instead.
            let mut out = Vec::new();
            for k in &keys {
                let rows = self.conn.query(
                    &format!(
                        "SELECT key, patient_id FROM patient_blocking_key WHERE key = $1 LIMIT {}",
                        max_block + 1
                    ),
                    &[Value::Int(*k)],
                )?;
                out.extend(rows.iter().map(|r| (int(r, 0), int(r, 1))));
            }
            out
        };
        pairs.sort_unstable();
        let mut skipped = 0;
        let mut hits = Vec::new();
        for block in pairs.chunk_by(|a, b| a.0 == b.0) {
            if block.len() > max_block {
                skipped += 1;
                continue;
            }
            hits.extend(block.iter().map(|(_, p)| *p));
        }
        // Most shared keys first: the same person shares most of them, a
        // stranger in one block usually one.
        hits.sort_unstable();
        let mut ranked: Vec<(usize, i64)> = hits
            .chunk_by(|a, b| a == b)
            .map(|run| (run.len(), run[0]))
            .collect();
        ranked.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok((
            ranked.into_iter().map(|(_, p)| PatientId(p)).collect(),
            skipped,
        ))
    }

    /// Patient ids (and their `merged_into`) after `after`, ascending, at
    /// most `limit`: the walk of bulk de-duplication and key backfill.
    pub fn patient_ids_after(
        &mut self,
        after: PatientId,
        limit: i64,
    ) -> Result<Vec<(PatientId, Option<PatientId>)>> {
        let rows = self.conn.query(
            "SELECT patient_id, merged_into FROM patient WHERE patient_id > $1 ORDER BY patient_id LIMIT $2",
            &[Value::Int(after.0), Value::Int(limit)],
        )?;
        Ok(rows
            .iter()
            .map(|r| (PatientId(int(r, 0)), opt_int(r, 1).map(PatientId)))
            .collect())
    }

    /// Of these people, the ones with no blocking key indexed (created
    /// before migration 0002, or loaded without the matcher).
    pub fn without_blocking_keys(&mut self, among: &[PatientId]) -> Result<Vec<PatientId>> {
        let mut out = Vec::new();
        for chunk in among.chunks(500) {
            let sql = format!(
                "SELECT DISTINCT patient_id FROM patient_blocking_key WHERE patient_id IN ({})",
                placeholders(1, chunk.len())
            );
            let params: Vec<Value> = chunk.iter().map(|p| Value::Int(p.0)).collect();
            let have = ids(&self.conn.query(&sql, &params)?);
            out.extend(chunk.iter().filter(|p| !have.contains(p)).copied());
        }
        Ok(out)
    }

    // ---- merges -----------------------------------------------------------

    /// The survivor a record belongs to: follows `merged_into` to the root.
    pub fn root_of(&mut self, id: PatientId) -> Result<PatientId> {
        let mut cur = id;
        for _ in 0..64 {
            let rows = self.conn.query(
                "SELECT merged_into FROM patient WHERE patient_id = $1",
                &[Value::Int(cur.0)],
            )?;
            let Some(row) = rows.first() else {
                return Err(StoreError::NotFound("patient"));
            };
            match opt_int(row, 0) {
                Some(next) => cur = PatientId(next),
                None => return Ok(cur),
            }
        }
        Err(StoreError::Corrupt(
            "merged_into chain too long or cyclic".into(),
        ))
    }

    /// The merge cluster `id` belongs to (its root first): one statement
    /// for the common case of a record neither merged nor absorbing anyone,
    /// else [`Tx::root_of`] + [`Tx::cluster_of`].
    pub fn cluster_of_record(&mut self, id: PatientId) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT merged_into, EXISTS (SELECT 1 FROM patient c WHERE c.merged_into = p.patient_id) \
             FROM patient p WHERE p.patient_id = $1",
            &[Value::Int(id.0)],
        )?;
        let Some(row) = rows.first() else {
            return Err(StoreError::NotFound("patient"));
        };
        if opt_int(row, 0).is_none() && int(row, 1) == 0 {
            return Ok(vec![id]);
        }
        let root = self.root_of(id)?;
        self.cluster_of(root)
    }

    /// Records merged directly into `id`.
    pub fn merged_children(&mut self, id: PatientId) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT patient_id FROM patient WHERE merged_into = $1 ORDER BY patient_id",
            &[Value::Int(id.0)],
        )?;
        Ok(ids(&rows))
    }

    /// `root` and every record merged into it (transitively), root first.
    pub fn cluster_of(&mut self, root: PatientId) -> Result<Vec<PatientId>> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() {
            let kids = self.merged_children(out[i])?;
            for k in kids {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
            i += 1;
            if out.len() > 10_000 {
                return Err(StoreError::Corrupt("merge cluster too large".into()));
            }
        }
        Ok(out)
    }

    /// Sets or clears `merged_into` (demographic versions are untouched).
    pub fn set_merged_into(&mut self, id: PatientId, into: Option<PatientId>) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE patient SET merged_into = $1, updated_at = $2 WHERE patient_id = $3",
            &[
                into.map(|p| p.0).into(),
                Value::Int(now_millis()),
                Value::Int(id.0),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("patient"));
        }
        Ok(())
    }

    /// Records a merge; returns its id.
    pub fn insert_merge(
        &mut self,
        survivor: PatientId,
        absorbed: PatientId,
        method: &str,
        actor: &str,
    ) -> Result<i64> {
        self.insert_returning(
            "INSERT INTO patient_merge (survivor, absorbed, method, actor, merged_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                Value::Int(survivor.0),
                Value::Int(absorbed.0),
                method.into(),
                actor.into(),
                Value::Int(now_millis()),
            ],
        )
    }

    fn merges_from_rows(rows: Vec<Vec<Value>>) -> Vec<MergeRecord> {
        rows.into_iter()
            .map(|mut r| MergeRecord {
                id: int(&r, 0),
                survivor: PatientId(int(&r, 1)),
                absorbed: PatientId(int(&r, 2)),
                method: text(&mut r, 3),
                actor: text(&mut r, 4),
                merged_at: int(&r, 5),
                unmerged_at: opt_int(&r, 6),
                unmerged_by: opt_text(&mut r, 7),
            })
            .collect()
    }

    /// The merge (not undone) that absorbed this record, if any.
    pub fn active_merge_of(&mut self, absorbed: PatientId) -> Result<Option<MergeRecord>> {
        let rows = self.conn.query(
            "SELECT id, survivor, absorbed, method, actor, merged_at, unmerged_at, unmerged_by FROM patient_merge \
             WHERE absorbed = $1 AND unmerged_at IS NULL ORDER BY id DESC LIMIT 1",
            &[Value::Int(absorbed.0)],
        )?;
        Ok(Self::merges_from_rows(rows).pop())
    }

    /// One merge by id.
    pub fn merge_record(&mut self, id: i64) -> Result<Option<MergeRecord>> {
        let rows = self.conn.query(
            "SELECT id, survivor, absorbed, method, actor, merged_at, unmerged_at, unmerged_by FROM patient_merge WHERE id = $1",
            &[Value::Int(id)],
        )?;
        Ok(Self::merges_from_rows(rows).pop())
    }

    /// Marks a merge undone (the row stays: history).
    pub fn mark_unmerged(&mut self, merge_id: i64, actor: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE patient_merge SET unmerged_at = $1, unmerged_by = $2 WHERE id = $3",
            &[Value::Int(now_millis()), actor.into(), Value::Int(merge_id)],
        )?;
        Ok(())
    }

    /// Number of merges in force.
    pub fn count_active_merges(&mut self) -> Result<i64> {
        let rows = self.conn.query(
            "SELECT COUNT(*) FROM patient_merge WHERE unmerged_at IS NULL",
            &[],
        )?;
        Ok(rows.first().map(|r| int(r, 0)).unwrap_or(0))
    }

    // ---- review queue -----------------------------------------------------

    /// Queues a possible match unless the same pair is already pending;
    /// returns the new item's id.
    pub fn insert_review(&mut self, r: &NewReview) -> Result<Option<i64>> {
        let (a, b) = ordered(r.patient_a, r.patient_b);
        let pending = self.conn.query(
            "SELECT id FROM match_review WHERE patient_a = $1 AND patient_b = $2 AND status = 'pending'",
            &[Value::Int(a), Value::Int(b)],
        )?;
        if !pending.is_empty() {
            return Ok(None);
        }
        self.insert_returning(
            "INSERT INTO match_review (patient_a, patient_b, score_millibits, explanation, origin, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id",
            &[
                Value::Int(a),
                Value::Int(b),
                Value::Int(r.score_millibits),
                r.explanation.as_str().into(),
                r.origin.as_str().into(),
                Value::Int(now_millis()),
            ],
        )
        .map(Some)
    }

    fn reviews_from_rows(rows: Vec<Vec<Value>>) -> Vec<ReviewRecord> {
        rows.into_iter()
            .map(|mut r| ReviewRecord {
                id: int(&r, 0),
                patient_a: PatientId(int(&r, 1)),
                patient_b: PatientId(int(&r, 2)),
                score_millibits: int(&r, 3),
                explanation: text(&mut r, 4),
                origin: text(&mut r, 5),
                status: ReviewStatus::parse(&text(&mut r, 6)),
                created_at: int(&r, 7),
                resolved_at: opt_int(&r, 8),
                resolved_by: opt_text(&mut r, 9),
            })
            .collect()
    }

    /// Review items with this status, oldest first, after id `after`.
    pub fn reviews(
        &mut self,
        status: ReviewStatus,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ReviewRecord>> {
        let rows = self.conn.query(
            "SELECT id, patient_a, patient_b, score_millibits, explanation, origin, status, created_at, resolved_at, resolved_by \
             FROM match_review WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3",
            &[status.as_str().into(), Value::Int(after), Value::Int(limit)],
        )?;
        Ok(Self::reviews_from_rows(rows))
    }

    /// One review item.
    pub fn review(&mut self, id: i64) -> Result<Option<ReviewRecord>> {
        let rows = self.conn.query(
            "SELECT id, patient_a, patient_b, score_millibits, explanation, origin, status, created_at, resolved_at, resolved_by \
             FROM match_review WHERE id = $1",
            &[Value::Int(id)],
        )?;
        Ok(Self::reviews_from_rows(rows).pop())
    }

    /// Closes a review item.
    pub fn resolve_review(&mut self, id: i64, status: ReviewStatus, actor: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE match_review SET status = $1, resolved_at = $2, resolved_by = $3 WHERE id = $4",
            &[
                status.as_str().into(),
                Value::Int(now_millis()),
                actor.into(),
                Value::Int(id),
            ],
        )?;
        Ok(())
    }

    /// Count of review items with this status.
    pub fn count_reviews(&mut self, status: ReviewStatus) -> Result<i64> {
        let rows = self.conn.query(
            "SELECT COUNT(*) FROM match_review WHERE status = $1",
            &[status.as_str().into()],
        )?;
        Ok(rows.first().map(|r| int(r, 0)).unwrap_or(0))
    }

    // ---- human link decisions --------------------------------------------

    /// Records a person's decision about two records (replacing an earlier one).
    pub fn set_link_decision(
        &mut self,
        a: PatientId,
        b: PatientId,
        decision: LinkDecision,
        actor: &str,
        review_id: Option<i64>,
    ) -> Result<()> {
        let (lo, hi) = ordered(a, b);
        self.conn.execute(
            "DELETE FROM link_decision WHERE patient_lo = $1 AND patient_hi = $2",
            &[Value::Int(lo), Value::Int(hi)],
        )?;
        self.conn.execute(
            "INSERT INTO link_decision (patient_lo, patient_hi, decision, decided_by, decided_at, review_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Value::Int(lo),
                Value::Int(hi),
                decision.as_str().into(),
                actor.into(),
                Value::Int(now_millis()),
                review_id.into(),
            ],
        )?;
        Ok(())
    }

    /// Removes a decision about two records (a later human merge of them).
    pub fn clear_link_decision(&mut self, a: PatientId, b: PatientId) -> Result<()> {
        let (lo, hi) = ordered(a, b);
        self.conn.execute(
            "DELETE FROM link_decision WHERE patient_lo = $1 AND patient_hi = $2",
            &[Value::Int(lo), Value::Int(hi)],
        )?;
        Ok(())
    }

    /// True when a person decided that some record in `a` and some record in
    /// `b` are different people.
    pub fn decided_different(&mut self, a: &[PatientId], b: &[PatientId]) -> Result<bool> {
        if a.is_empty() || b.is_empty() {
            return Ok(false);
        }
        let all: Vec<PatientId> = a.iter().chain(b.iter()).copied().collect();
        let sql = format!(
            "SELECT patient_lo, patient_hi FROM link_decision WHERE decision = 'different' AND patient_lo IN ({p}) AND patient_hi IN ({p})",
            p = placeholders(1, all.len())
        );
        let params: Vec<Value> = all.iter().map(|p| Value::Int(p.0)).collect();
        let rows = self.conn.query(&sql, &params)?;
        Ok(rows.iter().any(|r| {
            let (lo, hi) = (PatientId(int(r, 0)), PatientId(int(r, 1)));
            (a.contains(&lo) && b.contains(&hi)) || (a.contains(&hi) && b.contains(&lo))
        }))
    }
}

impl<'a> Tx<'a> {
    /// (message control id, patient id) of every journaled message that was
    /// applied to a person: the join from ground truth to registry records.
    pub fn journal_patients(&mut self) -> Result<Vec<(String, PatientId)>> {
        let rows = self.conn.query(
            "SELECT message_control_id, patient_id FROM message_journal \
             WHERE patient_id IS NOT NULL AND message_control_id IS NOT NULL ORDER BY id",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| (text(&mut r, 0), PatientId(int(&r, 1))))
            .collect())
    }
}
