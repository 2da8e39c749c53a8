//! Which merge keys (ids and aliases, emails, phones) the store may hold,
//! kept in memory while an import runs so that a new contact costs one
//! insert instead of four lookups.

use crate::store::{ContactRef, MergeKey as Key, Store, StoreError};

/// Which ids (and aliases), emails and phones the store may hold: a Bloom
/// filter over every key, filled from the store when the import starts and
/// with every key the import writes. A key it has never seen is certainly
/// not in the store, so a new contact costs one insert instead of four
/// lookups; a key it may have seen is looked up as before. Another
/// connection that commits between two batches (the store's change
/// counter moves) makes it reload from the store.
pub struct Keys {
    bits: Vec<u64>,
    /// The number of bits minus one (a power of two minus one).
    mask: u64,
    version: i64,
    /// While an import into an empty store runs without the email and
    /// phone indexes ([`Keys::bulk`]): where each email and phone this
    /// import wrote may be.
    exact: Option<Exact>,
}

/// An exact multimap from an email or phone to the rowids of every contact
/// this import gave it: a hash fingerprint (high 32 bits) and a rowid (low
/// 32 bits) per slot, open addressing. A fingerprint match is confirmed by
/// reading the row, so a collision costs a lookup, never a wrong merge; a
/// rowid listed for a key the contact no longer has is skipped the same way.
struct Exact {
    slots: Vec<u64>,
    len: usize,
    /// Whether the consent-history index was built early, for a merge
    /// that must look the history up.
    history_indexed: bool,
}

impl Exact {
    fn new() -> Exact {
        Exact {
            slots: vec![0; 1 << 20],
            len: 0,
            history_indexed: false,
        }
    }

    fn fingerprint(kind: Key, key: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (kind as u8 + 16).hash(&mut hasher);
        key.hash(&mut hasher);
        hasher.finish() >> 32
    }

    /// Adds a rowid for a key; `false` if the rowid does not fit.
    fn add(&mut self, kind: Key, key: &str, rowid: i64) -> bool {
        if !(1..=i64::from(u32::MAX)).contains(&rowid) {
            return false;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let grown = vec![0; self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, grown);
            for entry in old.into_iter().filter(|entry| *entry != 0) {
                self.place(entry);
            }
        }
        self.place(Exact::fingerprint(kind, key) << 32 | rowid as u64);
        self.len += 1;
        true
    }

    fn place(&mut self, entry: u64) {
        let mask = self.slots.len() - 1;
        let mut at = (entry >> 32) as usize & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = entry;
    }

    /// The id of the first contact (by row number) with this email or phone.
    fn find(&self, store: &Store, kind: Key, key: &str) -> Result<Option<ContactRef>, StoreError> {
        for row in self.candidates(kind, key) {
            let Some(stored) = store.contact_keys_at(row)? else {
                continue;
            };
            let value = match kind {
                Key::Email => &stored.email,
                Key::Phone => &stored.phone,
                Key::Id => return Ok(None),
            };
            if value.as_deref() == Some(key) {
                return Ok(Some(ContactRef { id: stored.id, row }));
            }
        }
        Ok(None)
    }

    /// Every rowid listed for the key's fingerprint, smallest first.
    fn candidates(&self, kind: Key, key: &str) -> Vec<i64> {
        let fingerprint = Exact::fingerprint(kind, key);
        let mask = self.slots.len() - 1;
        let mut at = fingerprint as usize & mask;
        let mut found = Vec::new();
        while self.slots[at] != 0 {
            if self.slots[at] >> 32 == fingerprint {
                found.push((self.slots[at] & 0xffff_ffff) as i64);
            }
            at = (at + 1) & mask;
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Bits set per key: with 16 bits per expected key, about 1 lookup in
/// 5,000 of a new key is wasted.
const HASHES: u64 = 6;

impl Keys {
    pub fn load(store: &Store) -> Result<Keys, StoreError> {
        let version = store.change_counter()?;
        // Room for the store's keys and as many again from the file, at
        // least 8 MB: 4 million keys at 16 bits each.
        let expected = (store.merge_key_count()? * 2).max(1 << 22);
        let size = (expected * 16).next_power_of_two();
        let mut keys = Keys {
            bits: vec![0; (size / 64) as usize],
            mask: size - 1,
            version,
            exact: None,
        };
        store.each_merge_key(|kind, text| keys.insert(kind, text))?;
        Ok(keys)
    }

    /// For an empty store: the store drops its email, phone and
    /// consent-history indexes until [`Keys::finish`]
    /// ([`Store::start_bulk_load`]), and email and phone lookups are served
    /// from an exact in-memory map of the keys this import writes. Returns
    /// whether it did.
    pub fn bulk(&mut self, store: &Store) -> Result<bool, StoreError> {
        let empty = store.start_bulk_load()?;
        self.version = store.change_counter()?;
        if empty {
            self.exact = Some(Exact::new());
        }
        Ok(empty)
    }

    /// Builds the indexes [`Keys::bulk`] dropped, in its own transaction.
    pub fn finish(&mut self, store: &Store) -> Result<(), StoreError> {
        self.exact = None;
        store.finish_bulk_load()
    }

    /// Leaves bulk mode inside the current transaction: builds the indexes.
    fn leave_bulk(&mut self, store: &Store) -> Result<(), StoreError> {
        if self.exact.take().is_some() {
            store.leave_bulk_load()?;
        }
        Ok(())
    }

    /// Reloads when another connection has written since the last check.
    pub fn refresh(&mut self, store: &Store) -> Result<(), StoreError> {
        if store.change_counter()? != self.version {
            // The in-memory map misses what the other connection wrote.
            self.leave_bulk(store)?;
            *self = Keys::load(store)?;
        }
        Ok(())
    }

    /// Lists the email and phone of a contact written at `row` in the exact map.
    pub fn note(
        &mut self,
        store: &Store,
        email: Option<&str>,
        phone: Option<&str>,
        row: i64,
    ) -> Result<(), StoreError> {
        let Some(exact) = &mut self.exact else {
            return Ok(());
        };
        let mut fits = true;
        if let Some(email) = email {
            fits &= exact.add(Key::Email, email, row);
        }
        if let Some(phone) = phone {
            fits &= exact.add(Key::Phone, phone, row);
        }
        if !fits {
            self.leave_bulk(store)?;
        }
        Ok(())
    }

    /// The contact a key names: `None` at once for a key the filter has
    /// never seen; an email or phone from the exact map during a bulk
    /// load; else from the store.
    pub fn find(
        &self,
        store: &Store,
        kind: Key,
        key: &str,
    ) -> Result<Option<ContactRef>, StoreError> {
        if !self.may_hold(kind, key) {
            return Ok(None);
        }
        match (&self.exact, kind) {
            (Some(exact), Key::Email | Key::Phone) => exact.find(store, kind, key),
            _ => store.contact_with(kind, key),
        }
    }

    /// Whether a bulk load runs ([`Keys::bulk`]): written rows must be
    /// [`Keys::note`]d.
    pub fn bulk_loading(&self) -> bool {
        self.exact.is_some()
    }

    /// During a bulk load, whether the consent-history index must be built
    /// now (a merged record's dated consent is looked up in the history),
    /// `true` once.
    pub fn take_history_index_wanted(&mut self) -> bool {
        match &mut self.exact {
            Some(exact) if !exact.history_indexed => {
                exact.history_indexed = true;
                true
            }
            _ => false,
        }
    }

    /// Adds the email and phone a record wrote to the filter.
    pub fn remember(&mut self, email: Option<&str>, phone: Option<&str>) {
        if let Some(email) = email {
            self.insert(Key::Email, email);
        }
        if let Some(phone) = phone {
            self.insert(Key::Phone, phone);
        }
    }

    fn positions(&self, kind: Key, key: &str) -> impl Iterator<Item = u64> + use<> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (kind as u8).hash(&mut hasher);
        key.hash(&mut hasher);
        let first = hasher.finish();
        let step = first.rotate_left(32) | 1;
        let mask = self.mask;
        (0..HASHES).map(move |i| first.wrapping_add(i.wrapping_mul(step)) & mask)
    }

    pub fn insert(&mut self, kind: Key, key: &str) {
        for bit in self.positions(kind, key) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    pub fn may_hold(&self, kind: Key, key: &str) -> bool {
        self.positions(kind, key)
            .all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// Which contacts this import has written, to count the records that name
/// a contact an earlier record of the same file wrote. Contacts inserted by
/// this import have row numbers past the store's last one at the start;
/// existing contacts it updated are marked in a bitset over the row
/// numbers below (an eighth of a byte per contact).
pub struct Written {
    first_new_row: i64,
    existing: Vec<u64>,
}

impl Written {
    pub fn new(store: &Store) -> Result<Written, StoreError> {
        let last = store.last_contact_row()?.max(0);
        // Row numbers are dense unless rows were inserted with explicit
        // ones; past 2^27 (16 MB of bits) repeats of existing contacts go
        // uncounted rather than taking the memory.
        let tracked = usize::try_from(last).unwrap_or(usize::MAX).min(1 << 27);
        Ok(Written {
            first_new_row: last + 1,
            existing: vec![0; tracked.div_ceil(64) + 1],
        })
    }

    /// Records that a record wrote the contact at `row`; returns whether an
    /// earlier record had.
    pub fn repeat(&mut self, row: i64) -> bool {
        if row >= self.first_new_row {
            return true;
        }
        let Ok(row) = usize::try_from(row) else {
            return false;
        };
        let (word, bit) = (row / 64, 1u64 << (row % 64));
        match self.existing.get_mut(word) {
            Some(bits) => {
                let seen = *bits & bit != 0;
                *bits |= bit;
                seen
            }
            None => false,
        }
    }
}
