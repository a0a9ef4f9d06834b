// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title OfficeRegistry — the consortium of member IP offices and its governance.
/// @notice Offices are identified by their WIPO ST.3 two-letter code. Each office has an admin
/// account (votes and proposes) and signer accounts (write register events and attestations).
/// Membership, signer keys, the vote threshold and attestation schemas change only by a vote
/// of the active offices, so that no single office or jurisdiction controls the network
/// (WIPO CWS Task 59).
contract OfficeRegistry is IOfficeRegistry {
    /// @notice Lifecycle of a member office. `None` means the code was never admitted.
    enum OfficeStatus {
        None,
        Active,
        Suspended,
        Removed
    }

    /// @notice What a proposal does when it executes.
    enum Action {
        AdmitOffice,
        SuspendOffice,
        ReinstateOffice,
        RemoveOffice,
        AddSigner,
        RevokeSigner,
        ChangeThreshold,
        ApproveSchema
    }

    /// @notice A founding office, given at deployment.
    struct FoundingOffice {
        bytes2 code;
        string name;
        address admin;
        address[] signers;
        bytes32 profileHash;
    }

    /// @notice Public view of one office.
    struct Office {
        bytes2 code;
        string name;
        OfficeStatus status;
        address admin;
        bytes32 profileHash;
        uint64 statusChangedAt;
    }

    /// @notice A governance proposal. `office`, `account`, `name`, `value` and `dataHash` are
    /// the action's arguments; which ones are used depends on `action`.
    struct Proposal {
        Action action;
        bytes2 office;
        address account;
        string name;
        uint256 value;
        bytes32 dataHash;
        bytes2 proposer;
        uint64 createdAt;
        uint64 deadline;
        uint32 votes;
        bool executed;
    }

    /// @notice The vote threshold is expressed in basis points of active offices; a proposal
    /// passes when `votes * 10000 > activeOffices * thresholdBps`. 5000 = "more than half".
    uint16 public constant MAX_THRESHOLD_BPS = 10000;

    mapping(bytes2 code => Office) private _offices;
    bytes2[] private _codes;
    mapping(address signer => bytes2 code) private _signerOffice;
    mapping(address admin => bytes2 code) private _adminOffice;
    mapping(bytes2 code => address[]) private _signers;
    uint32 private _activeOffices;
    uint16 private _thresholdBps;
    uint64 private _votingPeriod;
    Proposal[] private _proposals;
    mapping(uint256 proposalId => mapping(bytes2 code => bool)) private _voted;
    mapping(bytes32 schemaUid => string definition) private _schemas;
    mapping(address account => bool) private _retiredKeys;

    /// @notice An office joined the consortium (at deployment or by vote).
    event OfficeAdmitted(bytes2 indexed code, string name, address admin, bytes32 profileHash);
    /// @notice An office's status changed.
    event OfficeStatusChanged(bytes2 indexed code, OfficeStatus status);
    /// @notice A signer key was bound to an office.
    event SignerAdded(bytes2 indexed code, address indexed signer);
    /// @notice A signer key was revoked; it can no longer write.
    event SignerRevoked(bytes2 indexed code, address indexed signer);
    /// @notice The vote threshold changed.
    event ThresholdChanged(uint16 thresholdBps);
    /// @notice An attestation schema was approved by the consortium.
    event SchemaApproved(bytes32 indexed schemaUid, string definition);
    /// @notice A proposal was created.
    event ProposalCreated(
        uint256 indexed proposalId,
        Action action,
        bytes2 indexed proposer,
        bytes2 office,
        address account,
        uint256 value,
        uint64 deadline
    );
    /// @notice An office voted for a proposal.
    event ProposalVoted(uint256 indexed proposalId, bytes2 indexed voter, uint32 votes);
    /// @notice A proposal reached the threshold and its action took effect.
    event ProposalExecuted(uint256 indexed proposalId);

    error OfficeRegistryInvalidCode(bytes2 code);
    error OfficeRegistryOfficeExists(bytes2 code);
    error OfficeRegistryUnknownOffice(bytes2 code);
    error OfficeRegistryInvalidStatus(bytes2 code, OfficeStatus status);
    error OfficeRegistryNotActiveAdmin(address account);
    error OfficeRegistryAccountInUse(address account);
    error OfficeRegistryUnknownSigner(bytes2 code, address signer);
    error OfficeRegistryInvalidThreshold(uint256 thresholdBps);
    error OfficeRegistryUnknownProposal(uint256 proposalId);
    error OfficeRegistryProposalExpired(uint256 proposalId);
    error OfficeRegistryProposalAlreadyExecuted(uint256 proposalId);
    error OfficeRegistryAlreadyVoted(uint256 proposalId, bytes2 code);
    error OfficeRegistryInvalidProposal(Action action);
    error OfficeRegistryThresholdNotReached(uint256 proposalId, uint32 votes);
    error OfficeRegistryNoFounders();

    /// @param founders The founding offices, all Active from the start.
    /// @param initialThresholdBps Vote threshold in basis points (5000 = more than half).
    /// @param initialVotingPeriod Seconds a proposal stays open for votes.
    constructor(FoundingOffice[] memory founders, uint16 initialThresholdBps, uint64 initialVotingPeriod) {
        if (founders.length == 0) revert OfficeRegistryNoFounders();
        _setThreshold(initialThresholdBps);
        _votingPeriod = initialVotingPeriod;
        for (uint256 i = 0; i < founders.length; i++) {
            FoundingOffice memory founder = founders[i];
            _admit(founder.code, founder.name, founder.admin, founder.profileHash);
            for (uint256 j = 0; j < founder.signers.length; j++) {
                _addSigner(founder.code, founder.signers[j]);
            }
        }
    }

    // ---------------------------------------------------------------- reads

    /// @notice The office a signer key belongs to, and whether it may write now: the office is
    /// Active and the key is not revoked. `code` is zero for unknown keys.
    function officeOf(address signer) external view returns (bytes2 code, bool active) {
        code = _signerOffice[signer];
        active = code != bytes2(0) && _offices[code].status == OfficeStatus.Active;
    }

    /// @notice One office by its ST.3 code.
    function office(bytes2 code) external view returns (Office memory) {
        if (_offices[code].status == OfficeStatus.None) revert OfficeRegistryUnknownOffice(code);
        return _offices[code];
    }

    /// @notice All office codes ever admitted, in order of admission.
    function officeCodes() external view returns (bytes2[] memory) {
        return _codes;
    }

    /// @notice Current (non-revoked) signer keys of an office.
    function signersOf(bytes2 code) external view returns (address[] memory) {
        return _signers[code];
    }

    /// @notice Number of Active offices (the electorate).
    function activeOfficeCount() external view returns (uint32) {
        return _activeOffices;
    }

    /// @notice Vote threshold in basis points of active offices.
    function thresholdBps() external view returns (uint16) {
        return _thresholdBps;
    }

    /// @notice Seconds a proposal stays open.
    function votingPeriod() external view returns (uint64) {
        return _votingPeriod;
    }

    /// @notice Number of proposals ever created; ids are 0..count-1.
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    /// @notice One proposal.
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        if (proposalId >= _proposals.length) revert OfficeRegistryUnknownProposal(proposalId);
        return _proposals[proposalId];
    }

    /// @notice Up to `limit` proposals starting at id `offset`, oldest first (empty past the end).
    function proposals(uint256 offset, uint256 limit) external view returns (Proposal[] memory page) {
        uint256 total = _proposals.length;
        uint256 end = offset >= total ? offset : (limit > total - offset ? total : offset + limit);
        page = new Proposal[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            page[i - offset] = _proposals[i];
        }
    }

    /// @notice Whether an office has voted on a proposal.
    function hasVoted(uint256 proposalId, bytes2 code) external view returns (bool) {
        return _voted[proposalId][code];
    }

    /// @notice The definition of an approved attestation schema ("" when not approved).
    function schemaDefinition(bytes32 schemaUid) external view returns (string memory) {
        return _schemas[schemaUid];
    }

    // ---------------------------------------------------------------- governance

    /// @notice Propose a change. Only the admin account of an Active office may propose; the
    /// proposer's vote is counted at once. Arguments by action:
    /// AdmitOffice(office, account=admin, name, dataHash=profileHash);
    /// Suspend/Reinstate/RemoveOffice(office); AddSigner/RevokeSigner(office, account);
    /// ChangeThreshold(value=bps); ApproveSchema(name=definition).
    /// @return proposalId The new proposal's id.
    function propose(
        Action action,
        bytes2 officeCode,
        address account,
        string calldata name,
        uint256 value,
        bytes32 dataHash
    ) external returns (uint256 proposalId) {
        bytes2 proposer = _requireActiveAdmin(msg.sender);
        _checkProposal(action, officeCode, account, bytes(name).length, value);
        proposalId = _proposals.length;
        uint64 deadline = uint64(block.timestamp) + _votingPeriod;
        _proposals.push(
            Proposal({
                action: action,
                office: officeCode,
                account: account,
                name: name,
                value: value,
                dataHash: dataHash,
                proposer: proposer,
                createdAt: uint64(block.timestamp),
                deadline: deadline,
                votes: 0,
                executed: false
            })
        );
        emit ProposalCreated(proposalId, action, proposer, officeCode, account, value, deadline);
        _vote(proposalId, proposer);
    }

    /// @notice Vote for a proposal as the admin of an Active office. Executes the proposal in
    /// the same transaction when the vote makes it reach the threshold.
    function vote(uint256 proposalId) external {
        bytes2 voter = _requireActiveAdmin(msg.sender);
        _vote(proposalId, voter);
    }

    /// @notice Execute a proposal that has reached the threshold but not yet executed (e.g.
    /// after the electorate shrank, or the threshold was lowered). Anyone may call it: the votes
    /// already decided, executing only applies the decision.
    function execute(uint256 proposalId) external {
        Proposal storage p = _openProposal(proposalId);
        if (!_passes(p.votes)) revert OfficeRegistryThresholdNotReached(proposalId, p.votes);
        _execute(proposalId, p);
    }

    // ---------------------------------------------------------------- internals

    function _requireActiveAdmin(address account) private view returns (bytes2 code) {
        code = _adminOffice[account];
        if (code == bytes2(0) || _offices[code].status != OfficeStatus.Active) {
            revert OfficeRegistryNotActiveAdmin(account);
        }
    }

    function _openProposal(uint256 proposalId) private view returns (Proposal storage p) {
        if (proposalId >= _proposals.length) revert OfficeRegistryUnknownProposal(proposalId);
        p = _proposals[proposalId];
        if (p.executed) revert OfficeRegistryProposalAlreadyExecuted(proposalId);
        if (block.timestamp > p.deadline) revert OfficeRegistryProposalExpired(proposalId);
    }

    function _vote(uint256 proposalId, bytes2 voter) private {
        Proposal storage p = _openProposal(proposalId);
        if (_voted[proposalId][voter]) revert OfficeRegistryAlreadyVoted(proposalId, voter);
        _voted[proposalId][voter] = true;
        p.votes += 1;
        emit ProposalVoted(proposalId, voter, p.votes);
        if (_passes(p.votes)) _execute(proposalId, p);
    }

    function _passes(uint32 votes) private view returns (bool) {
        return uint256(votes) * MAX_THRESHOLD_BPS > uint256(_activeOffices) * _thresholdBps;
    }

    /// @dev Checked when proposing and again when executing: another proposal may have changed
    /// the office in between (e.g. two proposals to revoke the same key), and executing a
    /// stale action must fail rather than emit a second, misleading event.
    function _checkProposal(
        Action action,
        bytes2 code,
        address account,
        uint256 nameLength,
        uint256 value
    ) private view {
        if (action == Action.AdmitOffice) {
            _requireValidCode(code);
            if (_offices[code].status != OfficeStatus.None) revert OfficeRegistryOfficeExists(code);
            if (account == address(0) || nameLength == 0) {
                revert OfficeRegistryInvalidProposal(action);
            }
            _requireUnusedAccount(account);
        } else if (action == Action.ChangeThreshold) {
            if (value == 0 || value >= MAX_THRESHOLD_BPS) revert OfficeRegistryInvalidThreshold(value);
        } else if (action == Action.ApproveSchema) {
            if (nameLength == 0) revert OfficeRegistryInvalidProposal(action);
        } else {
            OfficeStatus status = _offices[code].status;
            if (status == OfficeStatus.None) revert OfficeRegistryUnknownOffice(code);
            if (action == Action.SuspendOffice && status != OfficeStatus.Active) {
                revert OfficeRegistryInvalidStatus(code, status);
            }
            if (action == Action.ReinstateOffice && status != OfficeStatus.Suspended) {
                revert OfficeRegistryInvalidStatus(code, status);
            }
            if (action == Action.RemoveOffice && status == OfficeStatus.Removed) {
                revert OfficeRegistryInvalidStatus(code, status);
            }
            if (action == Action.AddSigner) {
                if (account == address(0)) revert OfficeRegistryInvalidProposal(action);
                _requireUnusedAccount(account);
            }
            if (action == Action.RevokeSigner && _signerOffice[account] != code) {
                revert OfficeRegistryUnknownSigner(code, account);
            }
        }
    }

    function _execute(uint256 proposalId, Proposal storage p) private {
        Action action = p.action;
        _checkProposal(action, p.office, p.account, bytes(p.name).length, p.value);
        p.executed = true;
        if (action == Action.AdmitOffice) {
            _admit(p.office, p.name, p.account, p.dataHash);
        } else if (action == Action.SuspendOffice) {
            _setStatus(p.office, OfficeStatus.Suspended);
        } else if (action == Action.ReinstateOffice) {
            _setStatus(p.office, OfficeStatus.Active);
        } else if (action == Action.RemoveOffice) {
            _setStatus(p.office, OfficeStatus.Removed);
        } else if (action == Action.AddSigner) {
            _addSigner(p.office, p.account);
        } else if (action == Action.RevokeSigner) {
            _revokeSigner(p.office, p.account);
        } else if (action == Action.ChangeThreshold) {
            _setThreshold(uint16(p.value));
        } else {
            bytes32 uid = keccak256(bytes(p.name));
            _schemas[uid] = p.name;
            emit SchemaApproved(uid, p.name);
        }
        emit ProposalExecuted(proposalId);
    }

    function _requireValidCode(bytes2 code) private pure {
        // ST.3 codes are two upper-case Latin letters.
        bytes1 a = code[0];
        bytes1 b = code[1];
        if (a < 0x41 || a > 0x5A || b < 0x41 || b > 0x5A) revert OfficeRegistryInvalidCode(code);
    }

    function _requireUnusedAccount(address account) private view {
        if (
            _signerOffice[account] != bytes2(0) ||
            _adminOffice[account] != bytes2(0) ||
            _retiredKeys[account]
        ) {
            revert OfficeRegistryAccountInUse(account);
        }
    }

    function _admit(bytes2 code, string memory name, address admin, bytes32 profileHash) private {
        _requireValidCode(code);
        if (_offices[code].status != OfficeStatus.None) revert OfficeRegistryOfficeExists(code);
        _requireUnusedAccount(admin);
        _offices[code] = Office({
            code: code,
            name: name,
            status: OfficeStatus.Active,
            admin: admin,
            profileHash: profileHash,
            statusChangedAt: uint64(block.timestamp)
        });
        _codes.push(code);
        _adminOffice[admin] = code;
        _activeOffices += 1;
        emit OfficeAdmitted(code, name, admin, profileHash);
    }

    function _setStatus(bytes2 code, OfficeStatus status) private {
        Office storage o = _offices[code];
        bool wasActive = o.status == OfficeStatus.Active;
        o.status = status;
        o.statusChangedAt = uint64(block.timestamp);
        if (wasActive && status != OfficeStatus.Active) _activeOffices -= 1;
        if (!wasActive && status == OfficeStatus.Active) _activeOffices += 1;
        emit OfficeStatusChanged(code, status);
    }

    function _addSigner(bytes2 code, address signer) private {
        if (signer == address(0)) revert OfficeRegistryInvalidProposal(Action.AddSigner);
        _requireUnusedAccount(signer);
        _signerOffice[signer] = code;
        _signers[code].push(signer);
        emit SignerAdded(code, signer);
    }

    function _revokeSigner(bytes2 code, address signer) private {
        // A revoked key is retired for good, so it can never be bound to another office: past
        // entries it signed keep one unambiguous author.
        delete _signerOffice[signer];
        _retiredKeys[signer] = true;
        address[] storage list = _signers[code];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == signer) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        emit SignerRevoked(code, signer);
    }

    function _setThreshold(uint16 bps) private {
        if (bps == 0 || bps >= MAX_THRESHOLD_BPS) revert OfficeRegistryInvalidThreshold(bps);
        _thresholdBps = bps;
        emit ThresholdChanged(bps);
    }
}
