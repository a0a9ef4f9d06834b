// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title IRegisterLedger — the hash-anchored register of trademark and design events.
/// @notice What nodes, auditors and other contracts need of the ledger: the entry it takes,
/// the event it publishes, the errors it reverts with and its reads.
interface IRegisterLedger {
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
    /// @param seq Position of the entry in its record's history, from 1.
    /// @param blockNumber Block in which the entry was anchored.
    /// @param office ST.3 code of the office that anchored it.
    struct EntryInfo {
        uint64 seq;
        uint64 blockNumber;
        bytes2 office;
    }

    /// @notice A register event was anchored.
    /// @param recordId `keccak256` of the record key.
    /// @param office ST.3 code of the writing office.
    /// @param seq Position in the record's history; 1 for the record's first event.
    /// @param eventCode The entry's event code.
    /// @param documentHash SHA-256 of the event document's canonical bytes.
    /// @param entryHash The new head of the record (see `computeEntryHash`).
    /// @param prevEntryHash The record's previous head (zero for its first event).
    /// @param signer The signer key that sent the transaction.
    /// @param recordKey The record key, as given.
    /// @param document The canonical document bytes, or empty when only the hash is anchored.
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

    /// @notice The sender is not a current signer key of an Active office.
    /// @param signer The sending account.
    error RegisterUnauthorizedOffice(address signer);

    /// @notice `recordEvents` was called with no entry.
    error RegisterEmptyBatch();

    /// @notice A record key is not `XX/TM/…` or `XX/DS/…`, or is shorter than 7 or longer than
    /// `MAX_RECORD_KEY_LENGTH` bytes.
    /// @param index Position of the entry in the batch.
    /// @param recordKey The key as given.
    error RegisterInvalidRecordKey(uint256 index, string recordKey);

    /// @notice A record key names another office than the writer's.
    /// @param index Position of the entry in the batch.
    /// @param office The writer's ST.3 code.
    /// @param recordKey The key as given.
    error RegisterForeignRecord(uint256 index, bytes2 office, string recordKey);

    /// @notice An entry's document hash is zero.
    /// @param index Position of the entry in the batch.
    error RegisterZeroDocumentHash(uint256 index);

    /// @notice An entry's event code starts with a zero byte.
    /// @param index Position of the entry in the batch.
    /// @param eventCode The code as given.
    error RegisterInvalidEventCode(uint256 index, bytes8 eventCode);

    /// @notice An entry does not name its record's current head as its previous entry.
    /// @param index Position of the entry in the batch.
    /// @param recordId `keccak256` of the record key.
    /// @param head The record's current head.
    /// @param prevEntryHash The previous entry hash the entry named.
    error RegisterStaleHead(uint256 index, bytes32 recordId, bytes32 head, bytes32 prevEntryHash);

    /// @notice The very entry is already anchored (a replay, e.g. a retry after a lost receipt).
    /// @param index Position of the entry in the batch.
    /// @param entryHash The entry hash it was anchored under.
    error RegisterEntryAlreadyRecorded(uint256 index, bytes32 entryHash);

    /// @notice A published document does not hash (SHA-256) to the entry's document hash.
    /// @param index Position of the entry in the batch.
    /// @param documentHash The hash the entry gave.
    /// @param actualHash The SHA-256 of the document it published.
    error RegisterDocumentHashMismatch(uint256 index, bytes32 documentHash, bytes32 actualHash);

    /// @notice Anchor a batch of register events, atomically: one bad entry reverts the batch.
    /// @param entries The entries, in order; entries of one record may follow each other.
    function recordEvents(Entry[] calldata entries) external;

    /// @notice Longest record key accepted, in bytes.
    function MAX_RECORD_KEY_LENGTH() external view returns (uint256);

    /// @notice The OfficeRegistry this ledger trusts.
    function registry() external view returns (IOfficeRegistry);

    /// @notice A record's head.
    /// @param recordId `keccak256` of the record key.
    /// @return entryHash The record's latest entry hash (zero when it has none).
    /// @return seq That entry's sequence number (zero when the record has none).
    function headOf(bytes32 recordId) external view returns (bytes32 entryHash, uint64 seq);

    /// @notice What is anchored under an entry hash; `seq == 0` means nothing is.
    /// @param entryHash The entry hash to look up.
    function entryOf(bytes32 entryHash) external view returns (EntryInfo memory);

    /// @notice Number of entries anchored, all records together.
    function entryCount() external view returns (uint256);

    /// @notice The entry hash the ledger computes for an entry (for off-chain tools):
    /// `keccak256(abi.encode(recordId, seq, eventCode, documentHash, prevEntryHash, officeCode))`.
    /// @param recordId `keccak256` of the record key.
    /// @param seq The entry's position in its record's history.
    /// @param eventCode The entry's event code.
    /// @param documentHash SHA-256 of the event document's canonical bytes.
    /// @param prevEntryHash The record's previous head (zero for its first event).
    /// @param officeCode ST.3 code of the writing office.
    function computeEntryHash(
        bytes32 recordId,
        uint64 seq,
        bytes8 eventCode,
        bytes32 documentHash,
        bytes32 prevEntryHash,
        bytes2 officeCode
    ) external pure returns (bytes32);
}
