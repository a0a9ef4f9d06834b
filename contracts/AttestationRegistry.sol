// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IAttestationRegistry} from "./IAttestationRegistry.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title AttestationRegistry — identity attestations issued by member offices.
/// @notice Shaped like the Ethereum Attestation Service: an attestation says "office X vouches
/// for `claimHash` about `subject` under schema S", may expire and may be revoked by its
/// issuer or by a consortium vote. Only the hash of the claim document (SHA-256 over its
/// RFC 8785 bytes) is on-chain; the document itself (which may hold personal data) stays with
/// the parties. Schemas are the ones the consortium approved by vote in the OfficeRegistry. An
/// office may sign an attestation off-chain (EIP-712) and let anyone relay it.
///
/// An attestation holds at a time when it was issued by then, is not revoked and not expired
/// then, its issuer is Active then and its issuer has not been removed since it was issued
/// (a re-admitted office issues anew what should hold). See `validityAt`.
contract AttestationRegistry is IAttestationRegistry, EIP712, Nonces {
    /// @notice EIP-712 struct type of a delegated attestation. `attester` is the office signer
    /// key that signs; `nonce` is its next nonce here; `deadline` the last second the signature
    /// may be relayed.
    bytes32 public constant ATTEST_TYPEHASH =
        keccak256(
            "Attest(bytes32 schema,bytes32 subject,bytes32 claimHash,uint64 expiresAt,bytes32 refUid,"
            "address attester,uint256 nonce,uint256 deadline)"
        );

    /// @notice Longest time, in seconds, between the relaying block and a delegated
    /// attestation's deadline: a signature with a later deadline is refused.
    uint256 public constant MAX_SIGNATURE_LIFETIME = 30 days;

    /// @dev A consortium decision revoking an issuer's attestations issued in
    /// [`issuedSince`, `revokedAt`], from `revokedAt` on.
    struct IssuerRevocation {
        uint64 issuedSince;
        uint64 revokedAt;
    }

    IOfficeRegistry private immutable _registry;
    mapping(bytes32 uid => Attestation) private _attestations;
    mapping(bytes32 uid => uint32 admission) private _issuerAdmissions;
    mapping(bytes2 issuer => IssuerRevocation[]) private _issuerRevocations;
    uint256 private _attestationCount;

    /// @param officeRegistry The consortium's OfficeRegistry: who may attest, which schemas exist.
    constructor(IOfficeRegistry officeRegistry) EIP712("ipchain AttestationRegistry", "1") {
        _registry = officeRegistry;
    }

    /// @dev Only the OfficeRegistry, executing a consortium vote.
    modifier onlyRegistry() {
        if (msg.sender != address(_registry)) revert AttestationNotRegistry(msg.sender);
        _;
    }

    // ---------------------------------------------------------------- writes

    /// @notice Attest a claim as the office of the sending signer key.
    /// @dev The sender must be a current signer key of an Active office; the schema must be
    /// approved; `refUid`, when set, must name an existing attestation.
    /// @param schema Uid of an approved schema.
    /// @param subject Who or what the claim is about.
    /// @param claimHash SHA-256 of the claim document's canonical bytes (not zero).
    /// @param expiresAt Unix time from which it no longer holds (in the future), or 0.
    /// @param refUid An earlier attestation it builds on, or zero.
    /// @return uid The new attestation's uid.
    function attest(
        bytes32 schema,
        bytes32 subject,
        bytes32 claimHash,
        uint64 expiresAt,
        bytes32 refUid
    ) external returns (bytes32 uid) {
        AttestationRequest memory request = AttestationRequest(schema, subject, claimHash, expiresAt, refUid);
        return _attest(request, msg.sender);
    }

    /// @notice Record an attestation an office signer signed off-chain (EIP-712); anyone may
    /// relay it. The signature covers the request, the signer, its nonce and a deadline, so it
    /// can be used once, on this chain and contract only, not after the deadline, and not
    /// while the deadline is more than `MAX_SIGNATURE_LIFETIME` ahead.
    /// @param request The attestation as the signer signed it.
    /// @param signer The office signer key that signed (becomes the attester).
    /// @param nonce The signer's nonce the signature was made for (see `nonces`).
    /// @param deadline Last Unix time at which the signature may be relayed.
    /// @param signature 65-byte ECDSA signature (r, s, v) over the EIP-712 digest.
    /// @return uid The new attestation's uid.
    function attestBySig(
        AttestationRequest calldata request,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (bytes32 uid) {
        if (block.timestamp > deadline) revert AttestationExpiredDeadline(deadline);
        if (deadline - block.timestamp > MAX_SIGNATURE_LIFETIME) {
            revert AttestationDeadlineTooFar(deadline, block.timestamp + MAX_SIGNATURE_LIFETIME);
        }
        bytes32 digest = _hashTypedDataV4(_structHash(request, signer, nonce, deadline));
        (address recovered, ECDSA.RecoverError failure, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (failure != ECDSA.RecoverError.NoError || recovered != signer) {
            revert AttestationInvalidSignature(signer);
        }
        uint256 expected = _useNonce(signer);
        if (nonce != expected) revert AttestationInvalidNonce(signer, expected);
        return _attest(request, signer);
    }

    /// @notice Burn the sender's next nonce, so that a delegated attestation it signed with that
    /// nonce and has not been relayed can never be. Any current signer key of a member office
    /// may, whatever the office's status: it only takes power away from the key itself.
    /// @param nonce The nonce to burn: the sender's next one (see `nonces`).
    function cancelNonce(uint256 nonce) external {
        (bytes2 code, ) = _registry.officeOf(msg.sender);
        if (code == bytes2(0)) revert AttestationNotSigner(msg.sender);
        uint256 expected = _useNonce(msg.sender);
        if (nonce != expected) revert AttestationInvalidNonce(msg.sender, expected);
        emit NonceCancelled(msg.sender, nonce);
    }

    /// @notice Revoke an attestation as its issuer. Only a current signer key of the issuing
    /// office may, and only while that office is Active.
    /// @param uid The attestation's uid.
    function revoke(bytes32 uid) external {
        (bytes2 code, bool active) = _registry.officeOf(msg.sender);
        if (!active) revert AttestationUnauthorizedOffice(msg.sender);
        Attestation storage record = _attestations[uid];
        if (record.issuedAt == 0) revert AttestationNotFound(uid);
        if (record.issuerOffice != code) revert AttestationNotIssuer(uid, code);
        _revoke(uid, record);
    }

    /// @inheritdoc IAttestationRegistry
    function revokeByConsortium(bytes32 uid) external onlyRegistry {
        Attestation storage record = _attestations[uid];
        if (record.issuedAt == 0) revert AttestationNotFound(uid);
        _revoke(uid, record);
    }

    /// @inheritdoc IAttestationRegistry
    function revokeIssuedSince(bytes2 issuerOffice, uint64 issuedSince) external onlyRegistry {
        _issuerRevocations[issuerOffice].push(IssuerRevocation(issuedSince, uint64(block.timestamp)));
        emit IssuerAttestationsRevoked(issuerOffice, issuedSince, uint64(block.timestamp));
    }

    // ---------------------------------------------------------------- reads

    /// @notice Whether an attestation holds now (see `validityAt`).
    /// @param uid The attestation's uid.
    function isValid(bytes32 uid) external view returns (bool) {
        return _validityAt(uid, uint64(block.timestamp)) == Validity.Valid;
    }

    /// @notice Whether an attestation held at Unix time `timestamp` (see `validityAt`).
    /// Answers for past times from the current state, since revocation times and the issuer's
    /// status history are kept.
    /// @param uid The attestation's uid.
    /// @param timestamp Unix time.
    function isValidAt(bytes32 uid, uint64 timestamp) external view returns (bool) {
        return _validityAt(uid, timestamp) == Validity.Valid;
    }

    /// @notice Whether an attestation held at Unix time `timestamp`, and if not, the first
    /// reason in this order: no such attestation (`Unknown`), issued after `timestamp`
    /// (`NotYetIssued`), revoked at or before it by its issuer or by a consortium vote
    /// (`Revoked`), expired at it (`Expired`), the issuer's membership under which it was
    /// issued ended by removal at or before it (`IssuerRemoved`, for good: a re-admission does
    /// not bring it back), its issuer not Active at it (`IssuerSuspended`, until reinstated).
    /// @param uid The attestation's uid.
    /// @param timestamp Unix time.
    function validityAt(bytes32 uid, uint64 timestamp) external view returns (Validity) {
        return _validityAt(uid, timestamp);
    }

    /// @notice One attestation, with the time from which it is revoked by any means; reverts
    /// with `AttestationNotFound` when there is none.
    /// @param uid The attestation's uid.
    function attestation(bytes32 uid) external view returns (Attestation memory record) {
        record = _attestations[uid];
        if (record.issuedAt == 0) revert AttestationNotFound(uid);
        record.revokedAt = _revokedAt(_attestations[uid]);
    }

    /// @inheritdoc IAttestationRegistry
    function revocationOf(bytes32 uid) external view returns (bool exists, uint64 revokedAt) {
        Attestation storage record = _attestations[uid];
        exists = record.issuedAt != 0;
        revokedAt = exists ? _revokedAt(record) : 0;
    }

    /// @notice Number of attestations ever made.
    function attestationCount() external view returns (uint256) {
        return _attestationCount;
    }

    /// @inheritdoc IAttestationRegistry
    function registry() external view returns (IOfficeRegistry) {
        return _registry;
    }

    /// @notice The EIP-712 domain separator (name "ipchain AttestationRegistry", version "1",
    /// this chain's id, this contract's address).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The EIP-712 digest a signer signs for `attestBySig` (for off-chain tools).
    /// @param request The attestation.
    /// @param signer The signing key.
    /// @param nonce Its nonce.
    /// @param deadline Last Unix time at which the signature may be relayed.
    function attestDigest(
        AttestationRequest calldata request,
        address signer,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashTypedDataV4(_structHash(request, signer, nonce, deadline));
    }

    // ---------------------------------------------------------------- internals

    /// @dev Records an attestation by `attester` after the checks of `attest`.
    function _attest(AttestationRequest memory request, address attester) private returns (bytes32 uid) {
        (bytes2 code, bool active) = _registry.officeOf(attester);
        if (!active) revert AttestationUnauthorizedOffice(attester);
        if (bytes(_registry.schemaDefinition(request.schema)).length == 0) {
            revert AttestationUnknownSchema(request.schema);
        }
        if (request.claimHash == bytes32(0)) revert AttestationZeroClaimHash();
        if (request.expiresAt != 0 && request.expiresAt <= block.timestamp) {
            revert AttestationInvalidExpiry(request.expiresAt);
        }
        if (request.refUid != bytes32(0) && _attestations[request.refUid].issuedAt == 0) {
            revert AttestationUnknownReference(request.refUid);
        }
        uint256 serial = _attestationCount++;
        // The serial makes a uid unique even when an office attests the same claim twice (e.g.
        // re-issuing after a revocation).
        uid = keccak256(
            abi.encode(
                request.schema,
                request.subject,
                request.claimHash,
                request.expiresAt,
                request.refUid,
                code,
                attester,
                serial
            )
        );
        _issuerAdmissions[uid] = _registry.admissionCount(code);
        _attestations[uid] = Attestation({
            schema: request.schema,
            subject: request.subject,
            claimHash: request.claimHash,
            refUid: request.refUid,
            attester: attester,
            issuerOffice: code,
            issuedAt: uint64(block.timestamp),
            expiresAt: request.expiresAt,
            revokedAt: 0
        });
        emit Attested(
            uid,
            request.schema,
            code,
            request.subject,
            request.claimHash,
            request.expiresAt,
            request.refUid,
            attester
        );
    }

    /// @dev Revokes an existing attestation now, unless it is revoked already by any means.
    function _revoke(bytes32 uid, Attestation storage record) private {
        if (_revokedAt(record) != 0) revert AttestationAlreadyRevoked(uid);
        record.revokedAt = uint64(block.timestamp);
        emit Revoked(uid, record.issuerOffice, uint64(block.timestamp), msg.sender);
    }

    /// @dev The earliest time from which an attestation is revoked: by itself (issuer or
    /// consortium) or by a consortium decision on its issuer's attestations; 0 when none.
    function _revokedAt(Attestation storage record) private view returns (uint64 revokedAt) {
        revokedAt = record.revokedAt;
        uint64 issuedAt = record.issuedAt;
        IssuerRevocation[] storage decisions = _issuerRevocations[record.issuerOffice];
        for (uint256 i = 0; i < decisions.length; i++) {
            IssuerRevocation storage decision = decisions[i];
            bool covered = decision.issuedSince <= issuedAt && issuedAt <= decision.revokedAt;
            if (covered && (revokedAt == 0 || decision.revokedAt < revokedAt)) revokedAt = decision.revokedAt;
        }
    }

    /// @dev See `validityAt`.
    function _validityAt(bytes32 uid, uint64 timestamp) private view returns (Validity) {
        Attestation storage record = _attestations[uid];
        uint64 issuedAt = record.issuedAt;
        if (issuedAt == 0) return Validity.Unknown;
        if (issuedAt > timestamp) return Validity.NotYetIssued;
        uint64 revokedAt = _revokedAt(record);
        if (revokedAt != 0 && revokedAt <= timestamp) return Validity.Revoked;
        if (record.expiresAt != 0 && record.expiresAt <= timestamp) return Validity.Expired;
        bytes2 issuer = record.issuerOffice;
        uint64 removedAt = _registry.removedAt(issuer, _issuerAdmissions[uid]);
        if (removedAt != 0 && removedAt <= timestamp) return Validity.IssuerRemoved;
        if (_registry.statusAt(issuer, timestamp) != IOfficeRegistry.OfficeStatus.Active) {
            return Validity.IssuerSuspended;
        }
        return Validity.Valid;
    }

    /// @dev The EIP-712 struct hash of a delegated attestation.
    function _structHash(
        AttestationRequest calldata request,
        address signer,
        uint256 nonce,
        uint256 deadline
    ) private pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    ATTEST_TYPEHASH,
                    request.schema,
                    request.subject,
                    request.claimHash,
                    request.expiresAt,
                    request.refUid,
                    signer,
                    nonce,
                    deadline
                )
            );
    }
}
