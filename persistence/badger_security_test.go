package persistence_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

func TestBadgerSecurityContract(t *testing.T) {
	storetest.RunSecurityContract(t, func(t *testing.T) storetest.SharedStore {
		return openBadger(t, persistence.BadgerOptions{})
	})
}

// TestBadgerSecurityReopen checks that audit seqs stay dense across restarts and that
// revocations and API keys survive them, next to the alerts' own numbering.
func TestBadgerSecurityReopen(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	key, id := persistence.NewAPIKey()
	rev := persistence.Revocation{Kind: persistence.RevokeJTI, Value: "9f2b61c4",
		At: now, Until: now.Add(time.Hour)}

	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	mustAppend(t, s, storetest.Alerts("r", 2))
	storetest.MustAppendAudit(t, s, storetest.AuditEvents(0, 3))
	storetest.MustAppendAudit(t, s, storetest.AuditEvents(3, 2))
	storetest.MustPutRevocation(t, s, rev)
	storetest.MustPutAPIKey(t, s, storetest.APIKey(id, now), key.Hash())
	if err := s.RevokeAPIKey(id); err != nil {
		t.Fatal(err)
	}
	before := storetest.MustRangeAudit(t, s, 0, 100)
	closeStore(t, s)

	for round := range 2 {
		s = openBadger(t, persistence.BadgerOptions{Dir: dir})
		got := storetest.MustRangeAudit(t, s, 0, 100)
		if fmt.Sprint(got[:len(before)]) != fmt.Sprint(before) {
			t.Fatalf("round %d: audit log after reopen = %v, want %v", round, got, before)
		}
		next := storetest.MustAppendAudit(t, s, storetest.AuditEvents(10+round, 1))
		if want := uint64(len(before) + round + 1); next[0].Seq != want {
			t.Errorf("round %d: first audit seq after reopen = %d, want %d",
				round, next[0].Seq, want)
		}
		checkSeqs(t, s, 2, 2)

		revs, err := s.Revocations()
		if err != nil || len(revs) != 1 || revs[0].Value != rev.Value ||
			!revs[0].Until.Equal(rev.Until) {
			t.Errorf("round %d: Revocations() = %+v, %v; want %+v", round, revs, err, rev)
		}
		k, err := s.APIKeyByHash(key.Hash())
		if !errors.Is(err, persistence.ErrRevoked) || k.ID != id {
			t.Errorf("round %d: APIKeyByHash = %+v, %v; want key %s, ErrRevoked",
				round, k, err, id)
		}
		closeStore(t, s)
	}
}

// TestBadgerAuditRetention checks that audit events expire with the store's retention
// while their numbering goes on, and that API keys do not expire with it.
func TestBadgerAuditRetention(t *testing.T) {
	dir := t.TempDir()
	opts := persistence.BadgerOptions{Dir: dir, Retention: time.Second}
	key, id := persistence.NewAPIKey()

	s := openBadger(t, opts)
	storetest.MustAppendAudit(t, s, storetest.AuditEvents(0, 3))
	storetest.MustPutAPIKey(t, s, storetest.APIKey(id, time.Now()), key.Hash())

	// Expiry works in whole seconds, so events written now are gone within two seconds.
	waitFor(t, 3*time.Second, "audit events to expire", func() bool {
		page, err := s.RangeAudit(0, 10)
		return err == nil && len(page) == 0
	})
	got := storetest.MustAppendAudit(t, s, storetest.AuditEvents(3, 1))
	if got[0].Seq != 4 {
		t.Errorf("audit seq after expiry = %d, want 4", got[0].Seq)
	}
	if page := storetest.MustRangeAudit(t, s, 0, 10); len(page) != 1 || page[0].Seq != 4 {
		t.Errorf("RangeAudit after expiry = %+v, want event 4 alone", page)
	}
	if _, err := s.APIKeyByHash(key.Hash()); err != nil {
		t.Errorf("APIKeyByHash after the retention passed = %v, want nil", err)
	}
	closeStore(t, s)

	s = openBadger(t, opts)
	if got := storetest.MustAppendAudit(t, s, storetest.AuditEvents(4, 1)); got[0].Seq != 5 {
		t.Errorf("audit seq after reopen = %d, want 5", got[0].Seq)
	}
}

// TestBadgerAPIKeyPlaintextNeverStored creates API keys, audits them and closes the store,
// then reads every file in the directory: the keys' plaintext must appear nowhere, while a
// random marker stored next to them must, which shows the scan sees stored bytes (Badger
// compresses tables with Snappy, which copies random text through as it is).
func TestBadgerAPIKeyPlaintextNeverStored(t *testing.T) {
	dir := t.TempDir()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})

	var secrets []string
	marker := randomMarker(t)
	for i := range 3 {
		key, id := persistence.NewAPIKey()
		rec := storetest.APIKey(id, time.Now())
		rec.Client = fmt.Sprintf("%s-%d", marker, i)
		storetest.MustPutAPIKey(t, s, rec, key.Hash())
		storetest.MustAppendAudit(t, s, []persistence.AuditEvent{{
			Type: persistence.AuditAPIKeyCreated, Client: rec.Client, KeyID: id,
		}})
		plain := key.Reveal()
		secrets = append(secrets, plain, strings.TrimPrefix(plain, persistence.APIKeyPrefix))
	}
	if err := s.RevokeAPIKey(secretsID(t, s)); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)

	var files int
	var markerSeen bool
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		markerSeen = markerSeen || bytes.Contains(data, []byte(marker))
		for _, secret := range secrets {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s holds an API key's plaintext", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !markerSeen {
		t.Fatalf("the scan of %d files found not even the stored marker", files)
	}
}

// secretsID returns the id of the first stored API key.
func secretsID(t *testing.T, s persistence.SecurityStore) string {
	t.Helper()
	keys, err := s.APIKeys()
	if err != nil || len(keys) == 0 {
		t.Fatalf("APIKeys() = %d keys, %v", len(keys), err)
	}
	return keys[0].ID
}

func randomMarker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "marker-" + hex.EncodeToString(b)
}

// TestBadgerAlertFailureFailsSecurity fails an alert write on a broken directory and
// checks that no security record reaches Badger after it (Badger would abort the process).
func TestBadgerAlertFailureFailsSecurity(t *testing.T) {
	dir := t.TempDir() + "/badger"
	s, err := persistence.OpenBadgerSmallTables(persistence.BadgerOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	storetest.MustAppendAudit(t, s, storetest.AuditEvents(0, 2))

	restore := makeUnwritable(t, dir)
	fillUntilFailure(t, s)
	checkSecurityFailed(t, s)
	restore()
	closeRepaired(t, s)

	s2 := openBadger(t, persistence.BadgerOptions{Dir: dir})
	if got := storetest.MustAppendAudit(t, s2, storetest.AuditEvents(2, 1)); got[0].Seq != 3 {
		t.Errorf("audit seq after the failure = %d, want 3", got[0].Seq)
	}
}

// TestBadgerAuditFailureFailsAlerts fails an audit write on a broken directory and checks
// that the whole store fails closed, alerts included, and that the failed batch left
// nothing behind.
func TestBadgerAuditFailureFailsAlerts(t *testing.T) {
	dir := t.TempDir() + "/badger"
	s, err := persistence.OpenBadgerSmallTables(persistence.BadgerOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	mustAppend(t, s, storetest.Alerts("before", 3))

	restore := makeUnwritable(t, dir)
	acked := fillAuditUntilFailure(t, s)
	checkFailedClosed(t, s, 3, nil)
	checkSecurityFailed(t, s)
	restore()
	closeRepaired(t, s)

	s2 := openBadger(t, persistence.BadgerOptions{Dir: dir})
	checkSeqs(t, s2, 3, 3)
	if page := storetest.MustRangeAudit(t, s2, acked, 10); len(page) != 0 {
		t.Errorf("the failed audit batch left %d events after seq %d", len(page), acked)
	}
	if got := storetest.MustAppendAudit(t, s2, storetest.AuditEvents(0, 1)); got[0].Seq !=
		acked+1 {
		t.Errorf("first audit seq after the failure = %d, want %d", got[0].Seq, acked+1)
	}
}

// TestBadgerLargestAuditBatch stores the largest batch AppendAudit accepts, every field as
// long as allowed and made of the characters JSON escapes, in one transaction: it must fit
// Badger's transaction limit, since a refusal there would fail the whole store.
func TestBadgerLargestAuditBatch(t *testing.T) {
	s := openBadger(t, persistence.BadgerOptions{})
	field := strings.Repeat(`"\<>&`, persistence.MaxAuditFieldLen/5)
	batch := make([]persistence.AuditEvent, persistence.MaxAuditBatch)
	for i := range batch {
		batch[i] = persistence.AuditEvent{
			Type:   strings.Repeat("t", persistence.MaxAuditTypeLen),
			Client: field, Remote: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
			Reason: field, KeyID: field, TokenID: field, Detail: field,
		}
	}
	storetest.MustAppendAudit(t, s, batch)
	got := storetest.MustRangeAudit(t, s, persistence.MaxAuditBatch-1, 10)
	if len(got) != 1 || got[0].Detail != field {
		t.Errorf("last event of the batch read back as %+v", got)
	}
}

// fillAuditUntilFailure appends batches of 50 large events until AppendAudit fails, checks
// that the failure wraps ErrFailed and returns the last audit seq acknowledged before it.
func fillAuditUntilFailure(t *testing.T, s persistence.SecurityStore) uint64 {
	t.Helper()
	var acked uint64
	for i := range 2000 {
		batch := storetest.AuditEvents(i*50, 50)
		for j := range batch {
			batch[j].Detail = strings.Repeat("d", persistence.MaxAuditFieldLen)
		}
		got, err := s.AppendAudit(batch)
		if err != nil {
			if !errors.Is(err, persistence.ErrFailed) {
				t.Fatalf("AppendAudit = %v, want ErrFailed", err)
			}
			t.Logf("acked %d audit events, then: %v", acked, err)
			return acked
		}
		acked = got[len(got)-1].Seq
	}
	t.Fatal("2000 audit batches went into an unwritable directory without an error")
	return 0
}
