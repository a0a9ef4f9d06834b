// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IAttestationRegistry} from "./IAttestationRegistry.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title OfficeRegistry — the consortium of member IP offices and its governance.
/// @notice Offices are identified by their WIPO ST.3 two-letter code. Each office has an admin
/// account (votes and proposes) and signer accounts (write register events and attestations).
/// Membership, keys, the vote threshold, attestation schemas and consortium revocations of
/// attestations change only by a vote of the active offices, so that no single office or
/// jurisdiction controls the network (WIPO CWS Task 59).
///
/// A vote counts only while its office stays Active with the admin key that cast it: each
/// office has a term, which ends when it leaves Active or its admin key is replaced, and votes
/// (and proposals) of an ended term never count again. So suspending or removing an office can
/// never help its proposals pass (docs/governance.md, "Vote rule").
contract OfficeRegistry is IOfficeRegistry {
    /// @notice The vote threshold is expressed in basis points of active offices; a proposal
    /// passes when `votes * 10000 > activeOffices * thresholdBps`. 5000 = "more than half".
    uint16 public constant MAX_THRESHOLD_BPS = 10000;

    /// @notice Shortest voting period accepted at deployment, in seconds.
    uint64 public constant MIN_VOTING_PERIOD = 1 hours;

    /// @notice Longest voting period accepted at deployment, in seconds.
    uint64 public constant MAX_VOTING_PERIOD = 365 days;

    /// @dev A proposal as stored; `Proposal` is its public view.
    struct ProposalRecord {
        Action action;
        bytes2 office;
        address account;
        string name;
        uint256 value;
        bytes32 dataHash;
        bytes2 proposer;
        uint64 proposerTerm;
        uint64 createdAt;
        uint64 deadline;
        uint16 thresholdBps;
        bool executed;
    }

    // Bits of `_argumentsOf`: which of propose's arguments an action uses.
    uint256 private constant _OFFICE = 1;
    uint256 private constant _ACCOUNT = 2;
    uint256 private constant _NAME = 4;
    uint256 private constant _VALUE = 8;
    uint256 private constant _DATA_HASH = 16;

    address private immutable _deployer;
    mapping(bytes2 code => Office) private _offices;
    bytes2[] private _codes;
    mapping(bytes2 code => StatusChange[]) private _statusHistory;
    mapping(bytes2 code => uint64 term) private _terms;
    mapping(bytes2 code => uint32 count) private _admissions;
    mapping(bytes2 code => mapping(uint32 admission => uint64 removedAt)) private _removals;
    mapping(address signer => bytes2 code) private _signerOffice;
    mapping(address admin => bytes2 code) private _adminOffice;
    mapping(bytes2 code => address[]) private _signers;
    mapping(address account => bool) private _retiredKeys;
    uint32 private _activeOffices;
    uint16 private _thresholdBps;
    uint64 private _votingPeriod;
    ProposalRecord[] private _proposals;
    mapping(uint256 proposalId => bytes2[] codes) private _voters;
    mapping(uint256 proposalId => mapping(bytes2 code => uint64 term)) private _voteTerms;
    mapping(bytes32 schemaUid => string definition) private _schemas;
    IAttestationRegistry private _attestationRegistry;

    /// @param founders The founding offices, all Active from the start.
    /// @param initialThresholdBps Vote threshold in basis points (1 … 9 999; 5000 = more than
    /// half).
    /// @param initialVotingPeriod Seconds a proposal stays open (`MIN_VOTING_PERIOD` …
    /// `MAX_VOTING_PERIOD`).
    constructor(FoundingOffice[] memory founders, uint16 initialThresholdBps, uint64 initialVotingPeriod) {
        if (founders.length == 0) revert OfficeRegistryNoFounders();
        if (initialVotingPeriod < MIN_VOTING_PERIOD || initialVotingPeriod > MAX_VOTING_PERIOD) {
            revert OfficeRegistryInvalidVotingPeriod(initialVotingPeriod);
        }
        _setThreshold(initialThresholdBps);
        _votingPeriod = initialVotingPeriod;
        _deployer = msg.sender;
        for (uint256 i = 0; i < founders.length; i++) {
            FoundingOffice memory founder = founders[i];
            if (bytes(founder.name).length == 0 || founder.admin == address(0)) {
                revert OfficeRegistryInvalidFounder(founder.code);
            }
            _admit(founder.code, founder.name, founder.admin, founder.profileHash);
            for (uint256 j = 0; j < founder.signers.length; j++) {
                if (founder.signers[j] == address(0)) revert OfficeRegistryInvalidFounder(founder.code);
                _addSigner(founder.code, founder.signers[j]);
            }
        }
    }

    // ---------------------------------------------------------------- reads

    /// @notice The office a signer key belongs to, and whether it may write now: the office is
    /// Active and the key is not revoked. `code` is zero for unknown or revoked keys.
    /// @param signer The key.
    function officeOf(address signer) external view returns (bytes2 code, bool active) {
        code = _signerOffice[signer];
        active = code != bytes2(0) && _offices[code].status == OfficeStatus.Active;
    }

    /// @notice One office by its ST.3 code; reverts with `OfficeRegistryUnknownOffice` for a
    /// code never admitted.
    /// @param code The code.
    function office(bytes2 code) external view returns (Office memory) {
        if (_offices[code].status == OfficeStatus.None) revert OfficeRegistryUnknownOffice(code);
        return _offices[code];
    }

    /// @notice All office codes ever admitted, in order of first admission.
    function officeCodes() external view returns (bytes2[] memory) {
        return _codes;
    }

    /// @notice Current (non-revoked) signer keys of an office.
    /// @param code The office's code.
    function signersOf(bytes2 code) external view returns (address[] memory) {
        return _signers[code];
    }

    /// @notice An office's status history, oldest first: its admission, then every change.
    /// @param code The office's code (empty history for a code never admitted).
    function statusHistory(bytes2 code) external view returns (StatusChange[] memory) {
        return _statusHistory[code];
    }

    /// @inheritdoc IOfficeRegistry
    function statusAt(bytes2 code, uint64 timestamp) external view returns (OfficeStatus) {
        StatusChange[] storage history = _statusHistory[code];
        for (uint256 i = history.length; i > 0; i--) {
            if (history[i - 1].changedAt <= timestamp) return history[i - 1].status;
        }
        return OfficeStatus.None;
    }

    /// @inheritdoc IOfficeRegistry
    function admissionCount(bytes2 code) external view returns (uint32) {
        return _admissions[code];
    }

    /// @inheritdoc IOfficeRegistry
    function removedAt(bytes2 code, uint32 admission) external view returns (uint64) {
        return _removals[code][admission];
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

    /// @notice One proposal, with the votes that count now.
    /// @param proposalId The proposal's id.
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        if (proposalId >= _proposals.length) revert OfficeRegistryUnknownProposal(proposalId);
        return _view(proposalId);
    }

    /// @notice Up to `limit` proposals starting at id `offset`, oldest first (empty past the end).
    /// @param offset First proposal id.
    /// @param limit Most proposals returned.
    function proposals(uint256 offset, uint256 limit) external view returns (Proposal[] memory page) {
        uint256 total = _proposals.length;
        uint256 end = offset >= total ? offset : (limit > total - offset ? total : offset + limit);
        page = new Proposal[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            page[i - offset] = _view(i);
        }
    }

    /// @notice Whether an office has a vote on a proposal in its current term (a vote cast
    /// before the office left Active or replaced its admin key does not count, and the office
    /// may vote again once Active).
    /// @param proposalId The proposal's id.
    /// @param code The office's code.
    function hasVoted(uint256 proposalId, bytes2 code) external view returns (bool) {
        uint64 term = _terms[code];
        return term != 0 && _voteTerms[proposalId][code] == term;
    }

    /// @notice The offices whose votes for a proposal count now, in order of first vote.
    /// @param proposalId The proposal's id.
    function voters(uint256 proposalId) external view returns (bytes2[] memory counted) {
        if (proposalId >= _proposals.length) revert OfficeRegistryUnknownProposal(proposalId);
        bytes2[] storage codes = _voters[proposalId];
        counted = new bytes2[](_countVotes(proposalId));
        uint256 n = 0;
        for (uint256 i = 0; i < codes.length; i++) {
            if (_countsNow(codes[i], _voteTerms[proposalId][codes[i]])) counted[n++] = codes[i];
        }
    }

    /// @notice The definition of an approved attestation schema ("" when not approved).
    /// @param schemaUid `keccak256` of the definition.
    function schemaDefinition(bytes32 schemaUid) external view returns (string memory) {
        return _schemas[schemaUid];
    }

    /// @notice The AttestationRegistry that consortium revocations apply to (zero until bound).
    function attestationRegistry() external view returns (address) {
        return address(_attestationRegistry);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Propose a change. Only the admin account of an Active office may propose; the
    /// proposer's vote is counted at once (and executes the proposal if it is enough).
    /// @dev Arguments by action are listed at `Action`; an argument the action does not use
    /// must be zero or empty. The action's checks run now and again at execution.
    /// @param action An `Action` number (a number past the last action reverts with
    /// `OfficeRegistryUnknownAction`).
    /// @param officeCode The office it concerns, or zero.
    /// @param account The account it concerns, or zero.
    /// @param name Office name or schema definition, or empty.
    /// @param value Threshold or time, or zero.
    /// @param dataHash Profile hash or attestation uid, or zero.
    /// @return proposalId The new proposal's id.
    function propose(
        uint8 action,
        bytes2 officeCode,
        address account,
        string calldata name,
        uint256 value,
        bytes32 dataHash
    ) external returns (uint256 proposalId) {
        bytes2 proposer = _requireActiveAdmin(msg.sender);
        if (action > uint8(type(Action).max)) revert OfficeRegistryUnknownAction(action);
        _checkProposal(Action(action), officeCode, account, name, value, dataHash);
        proposalId = _proposals.length;
        uint64 deadline = uint64(block.timestamp) + _votingPeriod;
        _proposals.push(
            ProposalRecord({
                action: Action(action),
                office: officeCode,
                account: account,
                name: name,
                value: value,
                dataHash: dataHash,
                proposer: proposer,
                proposerTerm: _terms[proposer],
                createdAt: uint64(block.timestamp),
                deadline: deadline,
                thresholdBps: _thresholdBps,
                executed: false
            })
        );
        emit ProposalCreated(proposalId, Action(action), proposer, officeCode, account, value, deadline);
        _vote(proposalId, proposer);
    }

    /// @notice Vote for a proposal as the admin of an Active office. Executes the proposal in
    /// the same transaction when the votes that count now pass it.
    /// @param proposalId The proposal's id.
    function vote(uint256 proposalId) external {
        bytes2 voter = _requireActiveAdmin(msg.sender);
        _vote(proposalId, voter);
    }

    /// @notice Execute a proposal that passes without being executed (e.g. after the electorate
    /// shrank). Anyone may call it: it applies only what the votes that count now decide.
    /// @param proposalId The proposal's id.
    function execute(uint256 proposalId) external {
        ProposalRecord storage p = _liveProposal(proposalId);
        uint32 votes = _countVotes(proposalId);
        if (!_passes(p, votes)) revert OfficeRegistryThresholdNotReached(proposalId, votes);
        _execute(proposalId, p);
    }

    /// @notice Bind the consortium's AttestationRegistry, once, so that votes can revoke
    /// attestations. Only the deployer may, and only an AttestationRegistry whose `registry()`
    /// is this contract; the deployer has no other power.
    /// @param attestationRegistry_ The AttestationRegistry's address.
    function bindAttestationRegistry(address attestationRegistry_) external {
        if (msg.sender != _deployer) revert OfficeRegistryNotDeployer(msg.sender);
        if (address(_attestationRegistry) != address(0)) {
            revert OfficeRegistryAttestationRegistryBound(address(_attestationRegistry));
        }
        if (
            attestationRegistry_.code.length == 0 ||
            address(IAttestationRegistry(attestationRegistry_).registry()) != address(this)
        ) {
            revert OfficeRegistryForeignAttestationRegistry(attestationRegistry_);
        }
        _attestationRegistry = IAttestationRegistry(attestationRegistry_);
        emit AttestationRegistryBound(attestationRegistry_);
    }

    // ---------------------------------------------------------------- votes

    /// @dev The office whose admin `account` is, if that office is Active; reverts otherwise.
    function _requireActiveAdmin(address account) private view returns (bytes2 code) {
        code = _adminOffice[account];
        if (code == bytes2(0) || _offices[code].status != OfficeStatus.Active) {
            revert OfficeRegistryNotActiveAdmin(account);
        }
    }

    /// @dev A proposal that may still be voted on or executed: it exists, is not executed, has
    /// not expired and has not lapsed; reverts with the first of these that fails.
    function _liveProposal(uint256 proposalId) private view returns (ProposalRecord storage p) {
        if (proposalId >= _proposals.length) revert OfficeRegistryUnknownProposal(proposalId);
        p = _proposals[proposalId];
        if (p.executed) revert OfficeRegistryProposalAlreadyExecuted(proposalId);
        if (block.timestamp > p.deadline) revert OfficeRegistryProposalExpired(proposalId);
        if (!_countsNow(p.proposer, p.proposerTerm)) revert OfficeRegistryProposalLapsed(proposalId, p.proposer);
    }

    /// @dev Records `voter`'s vote in its current term and executes the proposal if it passes.
    function _vote(uint256 proposalId, bytes2 voter) private {
        ProposalRecord storage p = _liveProposal(proposalId);
        uint64 term = _terms[voter];
        uint64 previous = _voteTerms[proposalId][voter];
        if (previous == term) revert OfficeRegistryAlreadyVoted(proposalId, voter);
        if (previous == 0) _voters[proposalId].push(voter);
        _voteTerms[proposalId][voter] = term;
        uint32 votes = _countVotes(proposalId);
        emit ProposalVoted(proposalId, voter, votes);
        if (_passes(p, votes)) _execute(proposalId, p);
    }

    /// @dev Whether an office's vote (or proposal) cast in `term` counts now: the office is
    /// Active and still in that term.
    function _countsNow(bytes2 code, uint64 term) private view returns (bool) {
        return term == _terms[code] && _offices[code].status == OfficeStatus.Active;
    }

    /// @dev Votes for a proposal that count now (at most one per office: the voter list holds
    /// each office once).
    function _countVotes(uint256 proposalId) private view returns (uint32 votes) {
        bytes2[] storage codes = _voters[proposalId];
        for (uint256 i = 0; i < codes.length; i++) {
            if (_countsNow(codes[i], _voteTerms[proposalId][codes[i]])) votes++;
        }
    }

    /// @dev Whether `votes` pass a proposal: more than the stricter of the threshold when it was
    /// made and the current one, in basis points of the Active offices; never with none active.
    function _passes(ProposalRecord storage p, uint32 votes) private view returns (bool) {
        uint256 threshold = p.thresholdBps > _thresholdBps ? p.thresholdBps : _thresholdBps;
        return _activeOffices > 0 && uint256(votes) * MAX_THRESHOLD_BPS > uint256(_activeOffices) * threshold;
    }

    /// @dev The public view of a stored proposal.
    function _view(uint256 proposalId) private view returns (Proposal memory) {
        ProposalRecord storage p = _proposals[proposalId];
        return
            Proposal({
                action: p.action,
                office: p.office,
                account: p.account,
                name: p.name,
                value: p.value,
                dataHash: p.dataHash,
                proposer: p.proposer,
                createdAt: p.createdAt,
                deadline: p.deadline,
                votes: _countVotes(proposalId),
                executed: p.executed,
                thresholdBps: p.thresholdBps,
                lapsed: !p.executed && !_countsNow(p.proposer, p.proposerTerm)
            });
    }

    // ---------------------------------------------------------------- actions

    /// @dev Which arguments an action uses (bits `_OFFICE` … `_DATA_HASH`).
    function _argumentsOf(Action action) private pure returns (uint256) {
        if (action == Action.AdmitOffice || action == Action.ReadmitOffice) {
            return _OFFICE | _ACCOUNT | _NAME | _DATA_HASH;
        }
        if (action == Action.AddSigner || action == Action.RevokeSigner || action == Action.ReplaceAdmin) {
            return _OFFICE | _ACCOUNT;
        }
        if (action == Action.ChangeThreshold) return _VALUE;
        if (action == Action.ApproveSchema) return _NAME;
        if (action == Action.RevokeAttestation) return _DATA_HASH;
        if (action == Action.RevokeAttestationsIssuedSince) return _OFFICE | _VALUE;
        return _OFFICE; // SuspendOffice, ReinstateOffice, RemoveOffice
    }

    /// @dev The action's checks, run when proposing and again when executing: another proposal
    /// may have changed things in between (e.g. two proposals to revoke the same key), and
    /// executing a stale action must fail rather than emit a second, misleading event.
    function _checkProposal(
        Action action,
        bytes2 code,
        address account,
        string memory name,
        uint256 value,
        bytes32 dataHash
    ) private view {
        uint256 given = (code != bytes2(0) ? _OFFICE : 0) |
            (account != address(0) ? _ACCOUNT : 0) |
            (bytes(name).length != 0 ? _NAME : 0) |
            (value != 0 ? _VALUE : 0) |
            (dataHash != bytes32(0) ? _DATA_HASH : 0);
        if (given & ~_argumentsOf(action) != 0) revert OfficeRegistryInvalidProposal(action);

        if (action == Action.AdmitOffice) {
            _requireValidCode(code);
            if (_offices[code].status != OfficeStatus.None) revert OfficeRegistryOfficeExists(code);
            if (bytes(name).length == 0) revert OfficeRegistryInvalidProposal(action);
            _requireNewAccount(action, account);
        } else if (action == Action.ChangeThreshold) {
            if (value == 0 || value >= MAX_THRESHOLD_BPS) revert OfficeRegistryInvalidThreshold(value);
        } else if (action == Action.ApproveSchema) {
            if (bytes(name).length == 0) revert OfficeRegistryInvalidProposal(action);
            bytes32 uid = keccak256(bytes(name));
            if (bytes(_schemas[uid]).length != 0) revert OfficeRegistrySchemaAlreadyApproved(uid);
        } else if (action == Action.RevokeAttestation) {
            (bool exists, uint64 revokedAt) = _requireAttestationRegistry().revocationOf(dataHash);
            if (!exists) revert OfficeRegistryUnknownAttestation(dataHash);
            if (revokedAt != 0) revert OfficeRegistryAttestationAlreadyRevoked(dataHash);
        } else {
            _checkOfficeAction(action, code, account, name, value);
        }
    }

    /// @dev The checks of the actions that concern an existing office.
    function _checkOfficeAction(
        Action action,
        bytes2 code,
        address account,
        string memory name,
        uint256 value
    ) private view {
        OfficeStatus status = _offices[code].status;
        if (status == OfficeStatus.None) revert OfficeRegistryUnknownOffice(code);
        if (action == Action.SuspendOffice) {
            if (status != OfficeStatus.Active) revert OfficeRegistryInvalidStatus(code, status);
            _requireAnotherActiveOffice(code);
        } else if (action == Action.ReinstateOffice) {
            if (status != OfficeStatus.Suspended) revert OfficeRegistryInvalidStatus(code, status);
        } else if (action == Action.RemoveOffice) {
            if (status == OfficeStatus.Removed) revert OfficeRegistryInvalidStatus(code, status);
            if (status == OfficeStatus.Active) _requireAnotherActiveOffice(code);
        } else if (action == Action.AddSigner || action == Action.ReplaceAdmin) {
            if (status == OfficeStatus.Removed) revert OfficeRegistryInvalidStatus(code, status);
            _requireNewAccount(action, account);
        } else if (action == Action.RevokeSigner) {
            if (account == address(0) || _signerOffice[account] != code) {
                revert OfficeRegistryUnknownSigner(code, account);
            }
        } else if (action == Action.ReadmitOffice) {
            if (status != OfficeStatus.Removed) revert OfficeRegistryInvalidStatus(code, status);
            if (bytes(name).length == 0) revert OfficeRegistryInvalidProposal(action);
            _requireNewAccount(action, account);
        } else {
            // RevokeAttestationsIssuedSince: a time not in the future.
            if (value > block.timestamp) revert OfficeRegistryInvalidProposal(action);
            _requireAttestationRegistry();
        }
    }

    /// @dev Applies a passing proposal's action, after checking it again.
    function _execute(uint256 proposalId, ProposalRecord storage p) private {
        Action action = p.action;
        bytes2 code = p.office;
        address account = p.account;
        _checkProposal(action, code, account, p.name, p.value, p.dataHash);
        p.executed = true;
        if (action == Action.AdmitOffice) {
            _admit(code, p.name, account, p.dataHash);
        } else if (action == Action.SuspendOffice) {
            _setStatus(code, OfficeStatus.Suspended);
        } else if (action == Action.ReinstateOffice) {
            _setStatus(code, OfficeStatus.Active);
        } else if (action == Action.RemoveOffice) {
            _setStatus(code, OfficeStatus.Removed);
        } else if (action == Action.AddSigner) {
            _addSigner(code, account);
        } else if (action == Action.RevokeSigner) {
            _revokeSigner(code, account);
        } else if (action == Action.ChangeThreshold) {
            _setThreshold(uint16(p.value));
        } else if (action == Action.ApproveSchema) {
            bytes32 uid = keccak256(bytes(p.name));
            _schemas[uid] = p.name;
            emit SchemaApproved(uid, p.name);
        } else if (action == Action.ReplaceAdmin) {
            _replaceAdmin(code, account);
        } else if (action == Action.ReadmitOffice) {
            _readmit(code, p.name, account, p.dataHash);
        } else if (action == Action.RevokeAttestation) {
            _attestationRegistry.revokeByConsortium(p.dataHash);
        } else {
            _attestationRegistry.revokeIssuedSince(code, uint64(p.value));
        }
        emit ProposalExecuted(proposalId);
    }

    /// @dev Reverts unless `code` is two upper-case Latin letters (WIPO ST.3).
    function _requireValidCode(bytes2 code) private pure {
        bytes1 a = code[0];
        bytes1 b = code[1];
        if (a < 0x41 || a > 0x5A || b < 0x41 || b > 0x5A) revert OfficeRegistryInvalidCode(code);
    }

    /// @dev Reverts unless `account` may be bound to an office: not zero, not bound to any
    /// office in any role, never retired.
    function _requireNewAccount(Action action, address account) private view {
        if (account == address(0)) revert OfficeRegistryInvalidProposal(action);
        if (
            _signerOffice[account] != bytes2(0) ||
            _adminOffice[account] != bytes2(0) ||
            _retiredKeys[account]
        ) {
            revert OfficeRegistryAccountInUse(account);
        }
    }

    /// @dev Reverts when the Active office `code` is the only one: suspending or removing it
    /// would leave nobody to govern.
    function _requireAnotherActiveOffice(bytes2 code) private view {
        if (_activeOffices <= 1) revert OfficeRegistryLastActiveOffice(code);
    }

    /// @dev The bound AttestationRegistry; reverts when none is.
    function _requireAttestationRegistry() private view returns (IAttestationRegistry registry) {
        registry = _attestationRegistry;
        if (address(registry) == address(0)) revert OfficeRegistryAttestationRegistryNotBound();
    }

    /// @dev Admits a new office, Active, in its first term.
    function _admit(bytes2 code, string memory name, address admin, bytes32 profileHash) private {
        _requireValidCode(code);
        if (_offices[code].status != OfficeStatus.None) revert OfficeRegistryOfficeExists(code);
        _requireNewAccount(Action.AdmitOffice, admin);
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
        _terms[code] = 1;
        _admissions[code] = 1;
        _activeOffices += 1;
        _statusHistory[code].push(StatusChange(OfficeStatus.Active, uint64(block.timestamp)));
        emit OfficeAdmitted(code, name, admin, profileHash);
    }

    /// @dev Admits a removed office again under a new admin: its previous admin and its signer
    /// keys are retired for good, so it starts with no signer, in a new term.
    function _readmit(bytes2 code, string memory name, address admin, bytes32 profileHash) private {
        Office storage o = _offices[code];
        _retire(o.admin);
        delete _adminOffice[o.admin];
        address[] storage list = _signers[code];
        while (list.length > 0) {
            address signer = list[list.length - 1];
            list.pop();
            delete _signerOffice[signer];
            _retire(signer);
            emit SignerRevoked(code, signer);
        }
        o.name = name;
        o.admin = admin;
        o.profileHash = profileHash;
        _adminOffice[admin] = code;
        _terms[code] += 1;
        _admissions[code] += 1;
        emit OfficeReadmitted(code, name, admin, profileHash);
        _setStatus(code, OfficeStatus.Active);
    }

    /// @dev Replaces an office's admin key; the previous one is retired and the office's term
    /// ends, so votes and proposals made with the previous key no longer count.
    function _replaceAdmin(bytes2 code, address admin) private {
        Office storage o = _offices[code];
        address previous = o.admin;
        _retire(previous);
        delete _adminOffice[previous];
        o.admin = admin;
        _adminOffice[admin] = code;
        _terms[code] += 1;
        emit AdminReplaced(code, previous, admin);
    }

    /// @dev Changes an office's status and records it in its history. Leaving Active ends the
    /// office's term.
    function _setStatus(bytes2 code, OfficeStatus status) private {
        Office storage o = _offices[code];
        bool wasActive = o.status == OfficeStatus.Active;
        o.status = status;
        o.statusChangedAt = uint64(block.timestamp);
        if (wasActive && status != OfficeStatus.Active) {
            _activeOffices -= 1;
            _terms[code] += 1;
        }
        if (!wasActive && status == OfficeStatus.Active) _activeOffices += 1;
        if (status == OfficeStatus.Removed) _removals[code][_admissions[code]] = uint64(block.timestamp);
        _statusHistory[code].push(StatusChange(status, uint64(block.timestamp)));
        emit OfficeStatusChanged(code, status);
    }

    /// @dev Binds a new signer key to an office.
    function _addSigner(bytes2 code, address signer) private {
        _requireNewAccount(Action.AddSigner, signer);
        _signerOffice[signer] = code;
        _signers[code].push(signer);
        emit SignerAdded(code, signer);
    }

    /// @dev Revokes a signer key. A revoked key is retired for good, so it can never be bound
    /// to another office: past entries it signed keep one unambiguous author.
    function _revokeSigner(bytes2 code, address signer) private {
        delete _signerOffice[signer];
        _retire(signer);
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

    /// @dev Marks a key as retired: it can never be bound to an office again.
    function _retire(address account) private {
        _retiredKeys[account] = true;
    }

    /// @dev Sets the vote threshold (1 … 9 999 basis points).
    function _setThreshold(uint16 bps) private {
        if (bps == 0 || bps >= MAX_THRESHOLD_BPS) revert OfficeRegistryInvalidThreshold(bps);
        _thresholdBps = bps;
        emit ThresholdChanged(bps);
    }
}
