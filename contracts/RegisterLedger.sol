// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title RegisterLedger — hash-anchored register events of trademark and design records.
/// @notice Each record (key `{office}/{TM|DS}/{number}`, id `keccak256(key)`) has a history
/// of entries forming a hash chain enforced here: an entry must name the record's current head
/// as its `prevEntryHash`, so a history can neither fork nor be rewritten. The register event
/// document (RFC 8785 canonical JSON) travels with the entry and is published in its log, so
/// every office's node and every auditor gets the data from the chain itself; the ledger checks
/// it hashes (SHA-256) to the anchored document hash. An office may anchor the hash alone
/// (empty document) for data it may not publish yet.
contract RegisterLedger {
    /// @notice One register event to anchor.
    /// @param recordKey `{office}/{TM|DS}/{number}`; the office part must be the writer's code.
    /// @param eventCode ST.61/ST.87 key event code in ASCII, right-padded with zero bytes.
    /// @param documentHash SHA-256 of the event document's RFC 8785 canonical bytes.
    /// @param prevEntryHash The record's head entry hash (zero for its first event).
    /// @param document The canonical document bytes, or empty to anchor the hash alone.
    struct Entry {
        string recordKey;
        bytes8 eventCode;
        bytes32 documentHash;
        bytes32 prevEntryHash;
        bytes document;
    }

    /// @notice What the ledger keeps of an anchored entry (one storage slot).
    struct EntryInfo {
        uint64 seq;
        uint64 blockNumber;
        bytes2 office;
    }

    /// @notice Longest record key accepted, in bytes.
    uint256 public constant MAX_RECORD_KEY_LENGTH = 64;

    IOfficeRegistry private immutable _registry;
    mapping(bytes32 recordId => bytes32 entryHash) private _heads;
    mapping(bytes32 entryHash => EntryInfo) private _entries;
    uint256 private _entryCount;

    /// @notice A register event was anchored. `seq` starts at 1 for a record's first event.
    event EventRecorded(
        bytes32 indexed recordId,
        bytes2 indexed office,
        uint64 seq,
        bytes8 eventCode,
        bytes32 documentHash,
        bytes32 entryHash,
        bytes32 prevEntryHash,
        address signer,
        string recordKey,
        bytes document
    );

    error RegisterUnauthorizedOffice(address signer);
    error RegisterEmptyBatch();
    error RegisterInvalidRecordKey(uint256 index, string recordKey);
    error RegisterForeignRecord(uint256 index, bytes2 office, string recordKey);
    error RegisterZeroDocumentHash(uint256 index);
    error RegisterInvalidEventCode(uint256 index, bytes8 eventCode);
    error RegisterStaleHead(uint256 index, bytes32 recordId, bytes32 head, bytes32 prevEntryHash);
    error RegisterEntryAlreadyRecorded(uint256 index, bytes32 entryHash);
    error RegisterDocumentHashMismatch(uint256 index, bytes32 documentHash, bytes32 actualHash);

    /// @param officeRegistry The consortium's OfficeRegistry, asked who may write.
    constructor(IOfficeRegistry officeRegistry) {
        _registry = officeRegistry;
    }

    /// @notice Anchor a batch of register events, atomically: one bad entry reverts the batch.
    /// @dev The caller must be a current signer key of an Active office, and every entry must
    /// be for a record under that office's code. Entries for the same record may follow each
    /// other in one batch, each naming the previous one's entry hash.
    function recordEvents(Entry[] calldata entries) external {
        (bytes2 officeCode, bool active) = _registry.officeOf(msg.sender);
        if (!active) revert RegisterUnauthorizedOffice(msg.sender);
        if (entries.length == 0) revert RegisterEmptyBatch();
        for (uint256 i = 0; i < entries.length; i++) {
            // The fast path records entries up to the first it will not take; the plain
            // Solidity `_record` then records that one or reverts with the precise error.
            i = _recordCanonical(entries, i, officeCode);
            if (i < entries.length) _record(i, entries[i], officeCode);
        }
        _entryCount += entries.length;
    }

    /// @notice The OfficeRegistry this ledger trusts.
    function registry() external view returns (IOfficeRegistry) {
        return _registry;
    }

    /// @notice A record's head: its latest entry hash and sequence number (zeros when empty).
    function headOf(bytes32 recordId) external view returns (bytes32 entryHash, uint64 seq) {
        entryHash = _heads[recordId];
        seq = _entries[entryHash].seq;
    }

    /// @notice What is anchored under an entry hash; `seq == 0` means nothing is.
    function entryOf(bytes32 entryHash) external view returns (EntryInfo memory) {
        return _entries[entryHash];
    }

    /// @notice Number of entries anchored, all records together.
    function entryCount() external view returns (uint256) {
        return _entryCount;
    }

    /// @notice The entry hash the ledger computes for an entry (for off-chain tools).
    function computeEntryHash(
        bytes32 recordId,
        uint64 seq,
        bytes8 eventCode,
        bytes32 documentHash,
        bytes32 prevEntryHash,
        bytes2 officeCode
    ) external pure returns (bytes32) {
        return _entryHash(recordId, seq, eventCode, documentHash, prevEntryHash, officeCode);
    }

    // Memory of `_recordCanonical`, at fixed addresses so that every access is one PUSH: all
    // of it is past the free memory pointer while Solidity has allocated no more than the 64
    // bytes of officeOf's result (pointer 0xc0), which `_recordCanonical` checks.
    uint256 private constant _MEMORY_START = 0x100;
    /// @dev Preimage of a `_heads` slot: the record id, then `_heads.slot`.
    uint256 private constant _HEAD_KEY = 0x100;
    /// @dev Preimage of an `_entries` slot: the entry hash, then `_entries.slot`.
    uint256 private constant _INFO_KEY = 0x140;
    /// @dev Entry hash input: recordId here, then seq, eventCode, documentHash, prevEntryHash and
    /// office in the first words of the log data, where seq, eventCode and documentHash stay.
    uint256 private constant _HASH_INPUT = 0x180;
    /// @dev EventRecorded's log data: 0x00 seq, 0x20 eventCode, 0x40 documentHash, 0x60
    /// entryHash, 0x80 prevEntryHash, 0xa0 signer, 0xc0 recordKey offset (always 0x100), 0xe0
    /// document offset, then from 0x100 the entry's tails (key, then document) as in calldata.
    uint256 private constant _LOG = 0x1a0;
    uint256 private constant _LOG_TAILS = 0x2a0;
    uint256 private constant _LOG_KEY_BYTES = 0x2c0;

    /// @dev The fast path of `recordEvents`: records entries from `start` on while they are
    /// canonically ABI-encoded and pass every check, and returns the index of the first entry
    /// it does not record (`entries.length` when it records them all). Such an entry is left
    /// to `_record`, the reference implementation in plain Solidity, which records it or
    /// reverts with the precise error: this function only ever skips work, never decides.
    ///
    /// Why assembly: the embedded chain (py-evm) interprets every opcode in Python, at about
    /// 400,000 opcodes per second, and `_record` runs about 1,000 opcodes per entry (bounds
    /// checks on every calldata access, the key and document copied to memory once for
    /// keccak256, once for sha256 and once more to ABI-encode the log), which capped anchoring
    /// near 300 events per second. This loop runs about 250 (scripts/bench_opcodes.py): the key
    /// and document are copied once, straight into the log data, and hashed there; memory is
    /// at fixed addresses and the loop keeps few variables, so that the optimizer need not
    /// rematerialise calldata loads into it to save stack slots. What it stores and logs is
    /// byte for byte what `_record` would (tests/contracts/test_register_ledger_edges.py holds
    /// the log to eth-abi's encoding).
    ///
    /// Canonical encoding (what eth-abi and the node's encoder produce) makes the bounds checks
    /// cheap: an entry's tails follow its head in order, [key length, key, padding, document
    /// length, document, padding], so the document ending within calldata bounds all of it,
    /// and one `calldatacopy` moves both. An entry accepted here is read exactly as Solidity's
    /// decoder would read it.
    function _recordCanonical(
        Entry[] calldata entries,
        uint256 start,
        bytes2 officeCode
    ) private returns (uint256 index) {
        bytes32 eventTopic = EventRecorded.selector;
        assembly ("memory-safe") {
            index := start
            // Past _MEMORY_START only once _record has run in this transaction (for an entry
            // this path left to it): the rest of the batch then takes the plain path too.
            if iszero(gt(mload(0x40), _MEMORY_START)) {
                let officeWord := and(officeCode, shl(240, 0xffff)) // log topic, hash input
                let trademarkPrefix := or(shr(208, officeWord), 0x2f544d2f) // "XX/TM/", XX the office
                // EntryInfo packs seq (bits 0-63), blockNumber (64-127) and office (128-143).
                let blockAndOffice := or(shl(64, and(number(), sub(shl(64, 1), 1))), shr(112, officeWord))
                mstore(add(_HEAD_KEY, 0x20), _heads.slot)
                mstore(add(_INFO_KEY, 0x20), _entries.slot)
                mstore(add(_LOG, 0xa0), caller())
                mstore(add(_LOG, 0xc0), 0x100)

                let base := entries.offset
                let offsetsEnd := add(base, shl(5, entries.length))
                let cursor := add(base, shl(5, start))
                for {} lt(cursor, offsetsEnd) { cursor := add(cursor, 0x20) } {
                    let entry := add(base, calldataload(cursor))
                    let keyLength := calldataload(add(entry, 0xa0))
                    let documentOffset := calldataload(add(entry, 0x80))
                    let documentLength := calldataload(add(entry, documentOffset))

                    // Reasons to leave the entry to _record, each non-zero when it applies.
                    // Canonical layout within calldata: an `entry` past the end of calldata
                    // reads as zeros and fails the first test; the document length bound rules
                    // out wrapping around in the last.
                    let skip := xor(calldataload(entry), 0xa0)
                    let keyWords := and(add(keyLength, 0x1f), not(0x1f))
                    skip := or(skip, xor(documentOffset, add(0xc0, keyWords)))
                    skip := or(skip, shr(32, documentLength))
                    let tailsEnd := add(add(entry, documentOffset), add(documentLength, 0x20))
                    skip := or(skip, gt(tailsEnd, calldatasize()))
                    // The ledger's checks, as in _record and _checkRecordKey: key length
                    // outside [7, MAX_RECORD_KEY_LENGTH]; key not starting "XX/TM/" or "XX/DS/",
                    // XX the writer's office (six bytes compared in one go: XOR with the
                    // "XX/TM/" form leaves 0, or ("TM" ^ "DS") << 8 for a design); zero document
                    // hash; event code with dirty low 24 bytes (the decoder reverts on those) or
                    // a zero first byte.
                    skip := or(skip, gt(sub(keyLength, 7), 57))
                    let typeBits := xor(shr(208, calldataload(add(entry, 0xc0))), trademarkPrefix)
                    skip := or(skip, mul(typeBits, xor(typeBits, 0x101e00))) // < 2^96: no wrap
                    let documentHash := calldataload(add(entry, 0x40))
                    skip := or(skip, iszero(documentHash))
                    let eventCode := calldataload(add(entry, 0x20))
                    skip := or(skip, shl(64, eventCode))
                    skip := or(skip, lt(eventCode, shl(248, 1)))
                    if skip { break }
                    mstore(add(_LOG, 0x20), eventCode)
                    mstore(add(_LOG, 0x40), documentHash)

                    // Copy the tails into the log data, then zero their padding, which calldata
                    // need not have zeroed. The key's padding write spills onto the document
                    // length word, so that is written after it.
                    let tailsLength := add(documentOffset, sub(documentLength, 0x80)) // from entry + 0xa0
                    calldatacopy(_LOG_TAILS, add(entry, 0xa0), tailsLength)
                    mstore(add(_LOG_KEY_BYTES, keyLength), 0)
                    let documentBytes := add(_LOG_KEY_BYTES, add(keyWords, 0x20))
                    mstore(sub(documentBytes, 0x20), documentLength)
                    mstore(add(documentBytes, documentLength), 0)
                    if documentLength {
                        // SHA-256 precompile, over the document bytes already in the log data.
                        if iszero(staticcall(gas(), 0x02, documentBytes, documentLength, 0, 0x20)) {
                            revert(0, 0)
                        }
                        if iszero(eq(mload(0), documentHash)) { break }
                    }

                    // recordId, the record's head (_heads[recordId]) and its link.
                    let recordId := keccak256(_LOG_KEY_BYTES, keyLength)
                    mstore(_HEAD_KEY, recordId)
                    let headSlot := keccak256(_HEAD_KEY, 0x40)
                    let head := sload(headSlot)
                    if iszero(eq(head, calldataload(add(entry, 0x60)))) { break }
                    // seq = _entries[head].seq + 1 (cannot overflow: 2^64 entries of one record).
                    let seq := 1
                    if head {
                        mstore(_INFO_KEY, head)
                        seq := add(and(sload(keccak256(_INFO_KEY, 0x40)), sub(shl(64, 1), 1)), 1)
                    }

                    mstore(_HASH_INPUT, recordId)
                    mstore(_LOG, seq)
                    mstore(add(_LOG, 0x60), head)
                    mstore(add(_LOG, 0x80), officeWord)
                    let entryHash := keccak256(_HASH_INPUT, 0xc0)
                    sstore(headSlot, entryHash)
                    mstore(_INFO_KEY, entryHash)
                    sstore(keccak256(_INFO_KEY, 0x40), or(seq, blockAndOffice))

                    mstore(add(_LOG, 0x60), entryHash)
                    mstore(add(_LOG, 0x80), head)
                    mstore(add(_LOG, 0xe0), add(documentOffset, 0x60))
                    let documentWords := and(add(documentLength, 0x1f), not(0x1f))
                    let size := add(add(documentOffset, 0x80), documentWords)
                    log3(_LOG, size, eventTopic, recordId, officeWord)
                }
                index := shr(5, sub(cursor, base))
            }
        }
    }

    /// @dev Records one entry or reverts with the precise error: the reference implementation,
    /// for the entries `_recordCanonical` leaves (non-canonical encoding, or a failed check).
    function _record(uint256 index, Entry calldata entry, bytes2 officeCode) private {
        _checkRecordKey(index, entry.recordKey, officeCode);
        if (entry.documentHash == bytes32(0)) revert RegisterZeroDocumentHash(index);
        if (entry.eventCode[0] == 0) revert RegisterInvalidEventCode(index, entry.eventCode);
        if (entry.document.length > 0) {
            bytes32 actual = sha256(entry.document);
            if (actual != entry.documentHash) {
                revert RegisterDocumentHashMismatch(index, entry.documentHash, actual);
            }
        }

        bytes32 recordId = keccak256(bytes(entry.recordKey));
        bytes32 head = _heads[recordId];
        if (entry.prevEntryHash != head) _rejectOffHead(index, entry, recordId, head, officeCode);

        uint64 seq = head == bytes32(0) ? 1 : _entries[head].seq + 1;
        bytes32 entryHash = _entryHash(
            recordId,
            seq,
            entry.eventCode,
            entry.documentHash,
            head,
            officeCode
        );
        _heads[recordId] = entryHash;
        _entries[entryHash] = EntryInfo({
            seq: seq,
            blockNumber: uint64(block.number),
            office: officeCode
        });
        emit EventRecorded(
            recordId,
            officeCode,
            seq,
            entry.eventCode,
            entry.documentHash,
            entryHash,
            head,
            msg.sender,
            entry.recordKey,
            entry.document
        );
    }

    /// @dev Tells a replay (the very entry is already anchored) from a stale or forged link, so
    /// a submitter retrying after a lost receipt can treat its entry as done.
    function _rejectOffHead(
        uint256 index,
        Entry calldata entry,
        bytes32 recordId,
        bytes32 head,
        bytes2 officeCode
    ) private view {
        uint64 prevSeq = _entries[entry.prevEntryHash].seq;
        bytes32 candidate = _entryHash(
            recordId,
            prevSeq + 1,
            entry.eventCode,
            entry.documentHash,
            entry.prevEntryHash,
            officeCode
        );
        if (_entries[candidate].seq != 0) revert RegisterEntryAlreadyRecorded(index, candidate);
        revert RegisterStaleHead(index, recordId, head, entry.prevEntryHash);
    }

    function _checkRecordKey(uint256 index, string calldata recordKey, bytes2 officeCode) private pure {
        bytes calldata key = bytes(recordKey);
        // Shortest key: "XX/TM/1"; the contract checks only the office prefix and the type:
        // number normalisation (ST.13) is the node's job, and it is hashed into the document.
        if (key.length < 7 || key.length > MAX_RECORD_KEY_LENGTH || key[2] != "/" || key[5] != "/") {
            revert RegisterInvalidRecordKey(index, recordKey);
        }
        bool trademark = key[3] == "T" && key[4] == "M";
        bool design = key[3] == "D" && key[4] == "S";
        if (!trademark && !design) revert RegisterInvalidRecordKey(index, recordKey);
        if (key[0] != officeCode[0] || key[1] != officeCode[1]) {
            revert RegisterForeignRecord(index, officeCode, recordKey);
        }
    }

    function _entryHash(
        bytes32 recordId,
        uint64 seq,
        bytes8 eventCode,
        bytes32 documentHash,
        bytes32 prevEntryHash,
        bytes2 officeCode
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(recordId, seq, eventCode, documentHash, prevEntryHash, officeCode));
    }
}
