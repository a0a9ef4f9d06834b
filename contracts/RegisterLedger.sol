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
            _record(i, entries[i], officeCode);
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
