// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IOfficeRegistry} from "./IOfficeRegistry.sol";
import {IRegisterLedger} from "./IRegisterLedger.sol";

/// @title RegisterLedger — hash-anchored register events of trademark and design records.
/// @notice Each record (key `{office}/{TM|DS}/{number}`, id `keccak256(key)`) has a history
/// of entries forming a hash chain enforced here: an entry must name the record's current head
/// as its `prevEntryHash`, so a history can neither fork nor be rewritten. The register event
/// document (RFC 8785 canonical JSON) travels with the entry and is published in its log, so
/// every office's node and every auditor gets the data from the chain itself; the ledger checks
/// it hashes (SHA-256) to the anchored document hash. An office may anchor the hash alone
/// (empty document) for data it may not publish yet.
contract RegisterLedger is IRegisterLedger {
    /// @inheritdoc IRegisterLedger
    uint256 public constant MAX_RECORD_KEY_LENGTH = 64;

    IOfficeRegistry private immutable _registry;
    mapping(bytes32 recordId => bytes32 entryHash) private _heads;
    mapping(bytes32 entryHash => EntryInfo) private _entries;
    uint256 private _entryCount;

    /// @param officeRegistry The consortium's OfficeRegistry, asked who may write.
    constructor(IOfficeRegistry officeRegistry) {
        _registry = officeRegistry;
    }

    /// @inheritdoc IRegisterLedger
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

    /// @inheritdoc IRegisterLedger
    function registry() external view returns (IOfficeRegistry) {
        return _registry;
    }

    /// @inheritdoc IRegisterLedger
    function headOf(bytes32 recordId) external view returns (bytes32 entryHash, uint64 seq) {
        entryHash = _heads[recordId];
        seq = _entries[entryHash].seq;
    }

    /// @inheritdoc IRegisterLedger
    function entryOf(bytes32 entryHash) external view returns (EntryInfo memory) {
        return _entries[entryHash];
    }

    /// @inheritdoc IRegisterLedger
    function entryCount() external view returns (uint256) {
        return _entryCount;
    }

    /// @inheritdoc IRegisterLedger
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

    /// @dev Records one entry or reverts with the precise error. Checks, in this order: the
    /// record key, the document hash, the event code, the published document, the link to the
    /// record's head.
    /// @param index Position of the entry in the batch (named in errors).
    /// @param entry The entry.
    /// @param officeCode ST.3 code of the writing office.
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

    /// @dev Reverts for an entry that does not link to its record's head, telling a replay (the
    /// very entry is already anchored: `RegisterEntryAlreadyRecorded`) from a stale or forged
    /// link (`RegisterStaleHead`), so a submitter retrying after a lost receipt can treat its
    /// entry as done.
    /// @param index Position of the entry in the batch.
    /// @param entry The entry.
    /// @param recordId `keccak256` of the entry's record key.
    /// @param head The record's current head.
    /// @param officeCode ST.3 code of the writing office.
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

    /// @dev Checks the shape of a record key and that it is under the writer's office code.
    /// Only the office prefix and the type are checked: number normalisation (ST.13) is the
    /// node's job, and the number is hashed into the document.
    /// @param index Position of the entry in the batch.
    /// @param recordKey The key as given.
    /// @param officeCode ST.3 code of the writing office.
    function _checkRecordKey(uint256 index, string calldata recordKey, bytes2 officeCode) private pure {
        bytes calldata key = bytes(recordKey);
        // Shortest key: "XX/TM/1".
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

    /// @dev The entry hash: `keccak256(abi.encode(recordId, seq, eventCode, documentHash,
    /// prevEntryHash, officeCode))`.
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
