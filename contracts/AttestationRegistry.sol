// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title AttestationRegistry — identity attestations issued by member offices.
/// @notice Shaped like the Ethereum Attestation Service: an attestation says "office X vouches
/// for `claimHash` about `subject` under schema S", may expire and may be revoked by its
/// issuer. Only the hash of the claim document (SHA-256 over its RFC 8785 bytes) is on-chain;
/// the document itself (which may hold personal data) stays with the parties. Schemas are the
/// ones the consortium approved by vote in the OfficeRegistry. An office may sign an
/// attestation off-chain (EIP-712) and let anyone relay it.
contract AttestationRegistry is EIP712, Nonces {
    /// @notice What an attestation says, as given by its issuer.
    /// @param schema Uid of an approved schema (keccak256 of its definition).
    /// @param subject Who or what the claim is about (see the schema for the encoding).
    /// @param claimHash SHA-256 of the claim document's RFC 8785 canonical bytes.
    /// @param expiresAt Unix time from which the attestation no longer holds; 0 for never.
    /// @param refUid An earlier attestation this one builds on, or zero.
    struct AttestationRequest {
        bytes32 schema;
        bytes32 subject;
        bytes32 claimHash;
        uint64 expiresAt;
        bytes32 refUid;
    }

    /// @notice A recorded attestation. `issuedAt == 0` means there is none under that uid.
    struct Attestation {
        bytes32 schema;
        bytes32 subject;
        bytes32 claimHash;
        bytes32 refUid;
        address attester;
        bytes2 issuerOffice;
        uint64 issuedAt;
        uint64 expiresAt;
        uint64 revokedAt;
    }

    /// @notice EIP-712 struct type of a delegated attestation. `attester` is the office signer
    /// key that signs; `nonce` is its next nonce here; `deadline` the last second the signature
    /// may be relayed.
    bytes32 public constant ATTEST_TYPEHASH =
        keccak256(
            "Attest(bytes32 schema,bytes32 subject,bytes32 claimHash,uint64 expiresAt,bytes32 refUid,"
            "address attester,uint256 nonce,uint256 deadline)"
        );

    IOfficeRegistry private immutable _registry;
    mapping(bytes32 uid => Attestation) private _attestations;
    uint256 private _attestationCount;

    /// @notice An office attested a claim. `attester` is the signer key that made it (which,
    /// for a relayed attestation, is not the transaction's sender).
    event Attested(
        bytes32 indexed uid,
        bytes32 indexed schema,
        bytes2 indexed issuerOffice,
        bytes32 subject,
        bytes32 claimHash,
        uint64 expiresAt,
        bytes32 refUid,
        address attester
    );

    /// @notice The issuing office revoked an attestation; it stays readable but is no longer
    /// valid from `revokedAt` on.
    event Revoked(bytes32 indexed uid, bytes2 indexed issuerOffice, uint64 revokedAt, address revoker);

    error AttestationUnauthorizedOffice(address account);
    error AttestationUnknownSchema(bytes32 schema);
    error AttestationUnknownReference(bytes32 refUid);
    error AttestationInvalidExpiry(uint64 expiresAt);
    error AttestationZeroClaimHash();
    error AttestationNotFound(bytes32 uid);
    error AttestationNotIssuer(bytes32 uid, bytes2 office);
    error AttestationAlreadyRevoked(bytes32 uid);
    error AttestationExpiredDeadline(uint256 deadline);
    error AttestationInvalidSignature(address signer);
    error AttestationInvalidNonce(address signer, uint256 expectedNonce);

    /// @param officeRegistry The consortium's OfficeRegistry: who may attest, which schemas exist.
    constructor(IOfficeRegistry officeRegistry) EIP712("ipchain AttestationRegistry", "1") {
        _registry = officeRegistry;
    }

    // ---------------------------------------------------------------- writes

    /// @notice Attest a claim as the office of the sending signer key.
    /// @dev The sender must be a current signer key of an Active office; the schema must be
    /// approved; `refUid`, when set, must name an existing attestation.
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
    /// can be used once, on this chain and contract only, and not after the deadline.
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
        bytes32 digest = _hashTypedDataV4(_structHash(request, signer, nonce, deadline));
        (address recovered, ECDSA.RecoverError failure, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (failure != ECDSA.RecoverError.NoError || recovered != signer) {
            revert AttestationInvalidSignature(signer);
        }
        uint256 expected = _useNonce(signer);
        if (nonce != expected) revert AttestationInvalidNonce(signer, expected);
        return _attest(request, signer);
    }

    /// @notice Revoke an attestation. Only a current signer key of the issuing office may, and
    /// only while that office is Active.
    function revoke(bytes32 uid) external {
        (bytes2 code, bool active) = _registry.officeOf(msg.sender);
        if (!active) revert AttestationUnauthorizedOffice(msg.sender);
        Attestation storage record = _attestations[uid];
        if (record.issuedAt == 0) revert AttestationNotFound(uid);
        if (record.issuerOffice != code) revert AttestationNotIssuer(uid, code);
        if (record.revokedAt != 0) revert AttestationAlreadyRevoked(uid);
        record.revokedAt = uint64(block.timestamp);
        emit Revoked(uid, code, uint64(block.timestamp), msg.sender);
    }

    // ---------------------------------------------------------------- reads

    /// @notice Whether an attestation exists, is not revoked and has not expired, now.
    function isValid(bytes32 uid) external view returns (bool) {
        return _isValidAt(_attestations[uid], uint64(block.timestamp));
    }

    /// @notice Whether an attestation held at Unix time `timestamp`: issued at or before it, not
    /// revoked at or before it, and not expired at it. Answers for past times from the
    /// current state, because revocation time is kept.
    function isValidAt(bytes32 uid, uint64 timestamp) external view returns (bool) {
        return _isValidAt(_attestations[uid], timestamp);
    }

    /// @notice One attestation; reverts with `AttestationNotFound` when there is none.
    function attestation(bytes32 uid) external view returns (Attestation memory) {
        Attestation memory record = _attestations[uid];
        if (record.issuedAt == 0) revert AttestationNotFound(uid);
        return record;
    }

    /// @notice Number of attestations ever made.
    function attestationCount() external view returns (uint256) {
        return _attestationCount;
    }

    /// @notice The OfficeRegistry this registry trusts.
    function registry() external view returns (IOfficeRegistry) {
        return _registry;
    }

    /// @notice The EIP-712 domain separator (name "ipchain AttestationRegistry", version "1",
    /// this chain's id, this contract's address).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The EIP-712 digest a signer signs for `attestBySig` (for off-chain tools).
    function attestDigest(
        AttestationRequest calldata request,
        address signer,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashTypedDataV4(_structHash(request, signer, nonce, deadline));
    }

    // ---------------------------------------------------------------- internals

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

    function _isValidAt(Attestation memory record, uint64 timestamp) private pure returns (bool) {
        if (record.issuedAt == 0 || record.issuedAt > timestamp) return false;
        if (record.revokedAt != 0 && record.revokedAt <= timestamp) return false;
        return record.expiresAt == 0 || record.expiresAt > timestamp;
    }

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
