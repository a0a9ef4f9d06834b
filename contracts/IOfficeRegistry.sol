// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IOfficeRegistry — the consortium of member IP offices and its governance.
/// @notice What nodes, auditors and the other ipchain contracts ask the consortium registry,
/// the proposals it takes, the events it publishes and the errors it reverts with. The rules
/// are in docs/governance.md.
interface IOfficeRegistry {
    /// @notice Lifecycle of a member office. `None` means the code was never admitted.
    enum OfficeStatus {
        None,
        Active,
        Suspended,
        Removed
    }

    /// @notice What a proposal does when it executes. Arguments by action (any other argument
    /// must be zero or empty):
    /// AdmitOffice(office, account = admin, name, dataHash = profile hash);
    /// SuspendOffice, ReinstateOffice, RemoveOffice(office);
    /// AddSigner, RevokeSigner(office, account = signer key);
    /// ChangeThreshold(value = basis points); ApproveSchema(name = definition);
    /// ReplaceAdmin(office, account = new admin);
    /// ReadmitOffice(office, account = new admin, name, dataHash = profile hash);
    /// RevokeAttestation(dataHash = attestation uid);
    /// RevokeAttestationsIssuedSince(office = issuer, value = Unix time).
    enum Action {
        AdmitOffice,
        SuspendOffice,
        ReinstateOffice,
        RemoveOffice,
        AddSigner,
        RevokeSigner,
        ChangeThreshold,
        ApproveSchema,
        ReplaceAdmin,
        ReadmitOffice,
        RevokeAttestation,
        RevokeAttestationsIssuedSince
    }

    /// @notice A founding office, given at deployment.
    /// @param code WIPO ST.3 code (two upper-case letters).
    /// @param name Office name (not empty).
    /// @param admin Admin account (not zero).
    /// @param signers Signer keys (none zero).
    /// @param profileHash SHA-256 of the office's profile document, or zero.
    struct FoundingOffice {
        bytes2 code;
        string name;
        address admin;
        address[] signers;
        bytes32 profileHash;
    }

    /// @notice Public view of one office.
    /// @param code WIPO ST.3 code.
    /// @param name Office name.
    /// @param status Current status.
    /// @param admin Current admin account.
    /// @param profileHash SHA-256 of the office's profile document, or zero.
    /// @param statusChangedAt Unix time of the latest admission or status change.
    struct Office {
        bytes2 code;
        string name;
        OfficeStatus status;
        address admin;
        bytes32 profileHash;
        uint64 statusChangedAt;
    }

    /// @notice One step of an office's status history.
    /// @param status The status from then on.
    /// @param changedAt Block time of the change.
    struct StatusChange {
        OfficeStatus status;
        uint64 changedAt;
    }

    /// @notice Public view of a governance proposal.
    /// @param action What it does.
    /// @param office The office it concerns (see `Action`), or zero.
    /// @param account The account it concerns (see `Action`), or zero.
    /// @param name Office name or schema definition (see `Action`), or empty.
    /// @param value Threshold or time (see `Action`), or zero.
    /// @param dataHash Profile hash or attestation uid (see `Action`), or zero.
    /// @param proposer ST.3 code of the proposing office.
    /// @param createdAt Block time of the proposal.
    /// @param deadline Last Unix time at which it may be voted on or executed.
    /// @param votes Votes that count now: of offices Active now that voted in their current
    /// term (see `hasVoted`).
    /// @param executed Whether its action took effect.
    /// @param thresholdBps The threshold when it was made; the stricter of it and the current
    /// threshold applies.
    /// @param lapsed Whether it can no longer pass because its proposer left Active or had its
    /// admin key replaced since it proposed.
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
        uint16 thresholdBps;
        bool lapsed;
    }

    /// @notice An office joined the consortium (at deployment or by vote).
    /// @param code Its ST.3 code.
    /// @param name Its name.
    /// @param admin Its admin account.
    /// @param profileHash SHA-256 of its profile document, or zero.
    event OfficeAdmitted(bytes2 indexed code, string name, address admin, bytes32 profileHash);

    /// @notice A removed office was admitted again, under a new admin and with no signer key.
    /// @param code Its ST.3 code.
    /// @param name Its name from now on.
    /// @param admin Its new admin account.
    /// @param profileHash SHA-256 of its profile document, or zero.
    event OfficeReadmitted(bytes2 indexed code, string name, address admin, bytes32 profileHash);

    /// @notice An office's status changed.
    /// @param code Its ST.3 code.
    /// @param status The new status.
    event OfficeStatusChanged(bytes2 indexed code, OfficeStatus status);

    /// @notice An office's admin key was replaced; the previous key is retired for good.
    /// @param code The office's ST.3 code.
    /// @param previousAdmin The retired admin account.
    /// @param newAdmin The admin account from now on.
    event AdminReplaced(bytes2 indexed code, address previousAdmin, address newAdmin);

    /// @notice A signer key was bound to an office.
    /// @param code The office's ST.3 code.
    /// @param signer The key.
    event SignerAdded(bytes2 indexed code, address indexed signer);

    /// @notice A signer key was revoked (retired for good); it can no longer write.
    /// @param code The office's ST.3 code.
    /// @param signer The key.
    event SignerRevoked(bytes2 indexed code, address indexed signer);

    /// @notice The vote threshold changed.
    /// @param thresholdBps The new threshold in basis points of the active offices.
    event ThresholdChanged(uint16 thresholdBps);

    /// @notice An attestation schema was approved by the consortium.
    /// @param schemaUid `keccak256` of the definition.
    /// @param definition The schema's definition.
    event SchemaApproved(bytes32 indexed schemaUid, string definition);

    /// @notice The consortium's AttestationRegistry was bound (once, by the deployer).
    /// @param attestationRegistry Its address.
    event AttestationRegistryBound(address attestationRegistry);

    /// @notice A proposal was created.
    /// @param proposalId Its id.
    /// @param action What it does.
    /// @param proposer ST.3 code of the proposing office.
    /// @param office The office it concerns, or zero.
    /// @param account The account it concerns, or zero.
    /// @param value Threshold or time, or zero.
    /// @param deadline Last Unix time at which it may be voted on or executed.
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
    /// @param proposalId The proposal.
    /// @param voter ST.3 code of the voting office.
    /// @param votes Votes that count after this one (see `Proposal.votes`).
    event ProposalVoted(uint256 indexed proposalId, bytes2 indexed voter, uint32 votes);

    /// @notice A proposal passed and its action took effect.
    /// @param proposalId The proposal.
    event ProposalExecuted(uint256 indexed proposalId);

    /// @notice An office code is not two upper-case Latin letters (WIPO ST.3).
    /// @param code The code as given.
    error OfficeRegistryInvalidCode(bytes2 code);

    /// @notice The office code was admitted before (it stays taken after a removal).
    /// @param code The code.
    error OfficeRegistryOfficeExists(bytes2 code);

    /// @notice No office was ever admitted under this code.
    /// @param code The code.
    error OfficeRegistryUnknownOffice(bytes2 code);

    /// @notice The action does not apply to an office in this status.
    /// @param code The office's code.
    /// @param status Its current status.
    error OfficeRegistryInvalidStatus(bytes2 code, OfficeStatus status);

    /// @notice Suspending or removing the only Active office would leave nobody to govern.
    /// @param code The office's code.
    error OfficeRegistryLastActiveOffice(bytes2 code);

    /// @notice The sender is not the admin of an Active office.
    /// @param account The sending account.
    error OfficeRegistryNotActiveAdmin(address account);

    /// @notice The account is already bound to an office (in any role) or was retired.
    /// @param account The account.
    error OfficeRegistryAccountInUse(address account);

    /// @notice The account is not a current signer key of the office.
    /// @param code The office's code.
    /// @param signer The account.
    error OfficeRegistryUnknownSigner(bytes2 code, address signer);

    /// @notice A threshold outside 1 … 9 999 basis points.
    /// @param thresholdBps The threshold as given.
    error OfficeRegistryInvalidThreshold(uint256 thresholdBps);

    /// @notice A voting period outside `MIN_VOTING_PERIOD` … `MAX_VOTING_PERIOD`.
    /// @param votingPeriod The period as given, in seconds.
    error OfficeRegistryInvalidVotingPeriod(uint64 votingPeriod);

    /// @notice A founding office with an empty name, a zero admin or a zero signer key.
    /// @param code The founding office's code.
    error OfficeRegistryInvalidFounder(bytes2 code);

    /// @notice No founding office was given.
    error OfficeRegistryNoFounders();

    /// @notice An action number that is not an `Action`.
    /// @param action The number as given.
    error OfficeRegistryUnknownAction(uint8 action);

    /// @notice The proposal's arguments do not fit its action: a required one is missing or
    /// zero, or one the action does not use is set.
    /// @param action The action.
    error OfficeRegistryInvalidProposal(Action action);

    /// @notice The schema is approved already.
    /// @param schemaUid `keccak256` of its definition.
    error OfficeRegistrySchemaAlreadyApproved(bytes32 schemaUid);

    /// @notice No proposal has this id.
    /// @param proposalId The id.
    error OfficeRegistryUnknownProposal(uint256 proposalId);

    /// @notice The proposal's deadline has passed.
    /// @param proposalId The proposal.
    error OfficeRegistryProposalExpired(uint256 proposalId);

    /// @notice The proposal was executed already.
    /// @param proposalId The proposal.
    error OfficeRegistryProposalAlreadyExecuted(uint256 proposalId);

    /// @notice The proposing office has left Active or had its admin key replaced since it
    /// proposed: the proposal can no longer pass.
    /// @param proposalId The proposal.
    /// @param proposer The proposing office's code.
    error OfficeRegistryProposalLapsed(uint256 proposalId, bytes2 proposer);

    /// @notice The office has a vote on the proposal already (in its current term).
    /// @param proposalId The proposal.
    /// @param code The voting office's code.
    error OfficeRegistryAlreadyVoted(uint256 proposalId, bytes2 code);

    /// @notice The votes that count now do not pass the proposal.
    /// @param proposalId The proposal.
    /// @param votes The votes that count now.
    error OfficeRegistryThresholdNotReached(uint256 proposalId, uint32 votes);

    /// @notice Only the account that deployed the registry may bind its AttestationRegistry.
    /// @param account The sending account.
    error OfficeRegistryNotDeployer(address account);

    /// @notice The AttestationRegistry is bound already.
    /// @param attestationRegistry The bound one.
    error OfficeRegistryAttestationRegistryBound(address attestationRegistry);

    /// @notice The contract is not an AttestationRegistry that trusts this registry.
    /// @param attestationRegistry The address as given.
    error OfficeRegistryForeignAttestationRegistry(address attestationRegistry);

    /// @notice An attestation revocation was proposed before an AttestationRegistry was bound.
    error OfficeRegistryAttestationRegistryNotBound();

    /// @notice No attestation has this uid.
    /// @param uid The uid.
    error OfficeRegistryUnknownAttestation(bytes32 uid);

    /// @notice The attestation is revoked already.
    /// @param uid The uid.
    error OfficeRegistryAttestationAlreadyRevoked(bytes32 uid);

    /// @notice The office a signer key belongs to, and whether it may write now.
    /// @param signer The key.
    /// @return code The office's code (zero for keys that are not current signers).
    /// @return active Whether the key is a current signer of an Active office.
    function officeOf(address signer) external view returns (bytes2 code, bool active);

    /// @notice The definition of an approved attestation schema ("" when not approved).
    /// @param schemaUid `keccak256` of the definition.
    function schemaDefinition(bytes32 schemaUid) external view returns (string memory);

    /// @notice An office's status at a past or present time, from its status history.
    /// @param code The office's code.
    /// @param timestamp Unix time.
    /// @return The status in force at `timestamp`: set by the latest change at or before it
    /// (`None` before its admission).
    function statusAt(bytes2 code, uint64 timestamp) external view returns (OfficeStatus);

    /// @notice How many times an office was admitted: 1 after its admission, one more after
    /// each re-admission (0 for a code never admitted).
    /// @param code The office's code.
    function admissionCount(bytes2 code) external view returns (uint32);

    /// @notice When an office's `admission`-th membership ended by removal.
    /// @param code The office's code.
    /// @param admission Which admission (1 for the first).
    /// @return Block time of the removal, or 0 if that membership was not removed.
    function removedAt(bytes2 code, uint32 admission) external view returns (uint64);
}
