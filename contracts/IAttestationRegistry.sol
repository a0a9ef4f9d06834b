// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title IAttestationRegistry — identity attestations issued by member offices.
/// @notice The attestation types, events and errors, the validity rule's answers, and what the
/// OfficeRegistry calls when the consortium revokes by vote. The rules are in
/// docs/governance.md.
interface IAttestationRegistry {
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
    /// @param schema Uid of its schema.
    /// @param subject Who or what the claim is about.
    /// @param claimHash SHA-256 of the claim document's canonical bytes.
    /// @param refUid An earlier attestation it builds on, or zero.
    /// @param attester The signer key that made it.
    /// @param issuerOffice ST.3 code of the issuing office.
    /// @param issuedAt Block time of issuance.
    /// @param expiresAt Unix time from which it no longer holds; 0 for never.
    /// @param revokedAt Block time from which it is revoked (by its issuer or by a consortium
    /// vote, on it alone or on its issuer's attestations), or 0.
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

    /// @notice Whether an attestation holds at a time, and if not why; the first reason that
    /// applies, in this order.
    enum Validity {
        Unknown,
        Valid,
        NotYetIssued,
        Revoked,
        Expired,
        IssuerRemoved,
        IssuerSuspended
    }

    /// @notice An office attested a claim.
    /// @param uid The attestation's uid.
    /// @param schema Uid of its schema.
    /// @param issuerOffice ST.3 code of the issuing office.
    /// @param subject Who or what the claim is about.
    /// @param claimHash SHA-256 of the claim document's canonical bytes.
    /// @param expiresAt Unix time from which it no longer holds; 0 for never.
    /// @param refUid An earlier attestation it builds on, or zero.
    /// @param attester The signer key that made it (for a relayed attestation, not the
    /// transaction's sender).
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

    /// @notice An attestation was revoked; it stays readable but no longer holds from
    /// `revokedAt` on.
    /// @param uid The attestation's uid.
    /// @param issuerOffice ST.3 code of the issuing office.
    /// @param revokedAt Block time of the revocation.
    /// @param revoker The issuer's signer key, or the OfficeRegistry for a consortium vote.
    event Revoked(bytes32 indexed uid, bytes2 indexed issuerOffice, uint64 revokedAt, address revoker);

    /// @notice By a consortium vote, every attestation of an office issued from `issuedSince`
    /// up to `revokedAt` (both included) is revoked from `revokedAt` on.
    /// @param issuerOffice ST.3 code of the issuing office.
    /// @param issuedSince Unix time from which its attestations are revoked.
    /// @param revokedAt Block time of the decision.
    event IssuerAttestationsRevoked(bytes2 indexed issuerOffice, uint64 issuedSince, uint64 revokedAt);

    /// @notice A signer key burnt a nonce, so that a delegated attestation it signed with that
    /// nonce can never be relayed.
    /// @param signer The key.
    /// @param nonce The nonce burnt.
    event NonceCancelled(address indexed signer, uint256 nonce);

    /// @notice The key is not a current signer of an Active office.
    /// @param account The key.
    error AttestationUnauthorizedOffice(address account);

    /// @notice The schema is not approved by the consortium.
    /// @param schema The schema uid as given.
    error AttestationUnknownSchema(bytes32 schema);

    /// @notice `refUid` names no attestation.
    /// @param refUid The uid as given.
    error AttestationUnknownReference(bytes32 refUid);

    /// @notice An expiry that is not in the future.
    /// @param expiresAt The expiry as given.
    error AttestationInvalidExpiry(uint64 expiresAt);

    /// @notice The claim hash is zero.
    error AttestationZeroClaimHash();

    /// @notice No attestation has this uid.
    /// @param uid The uid.
    error AttestationNotFound(bytes32 uid);

    /// @notice The sender's office did not issue the attestation.
    /// @param uid The attestation's uid.
    /// @param office The sender's office.
    error AttestationNotIssuer(bytes32 uid, bytes2 office);

    /// @notice The attestation is revoked already.
    /// @param uid The uid.
    error AttestationAlreadyRevoked(bytes32 uid);

    /// @notice The delegated attestation's deadline has passed.
    /// @param deadline The deadline as signed.
    error AttestationExpiredDeadline(uint256 deadline);

    /// @notice The delegated attestation's deadline is further ahead than
    /// `MAX_SIGNATURE_LIFETIME` from the relaying block.
    /// @param deadline The deadline as signed.
    /// @param latestDeadline The latest deadline accepted now.
    error AttestationDeadlineTooFar(uint256 deadline, uint256 latestDeadline);

    /// @notice The signature does not recover the signer.
    /// @param signer The signer as given.
    error AttestationInvalidSignature(address signer);

    /// @notice The nonce is not the signer's next one.
    /// @param signer The signer.
    /// @param expectedNonce Its next nonce.
    error AttestationInvalidNonce(address signer, uint256 expectedNonce);

    /// @notice The sender is not a current signer key of a member office.
    /// @param account The sending account.
    error AttestationNotSigner(address account);

    /// @notice Only the OfficeRegistry may apply a consortium decision.
    /// @param account The sending account.
    error AttestationNotRegistry(address account);

    /// @notice The OfficeRegistry this registry trusts.
    function registry() external view returns (IOfficeRegistry);

    /// @notice Whether `uid` names an attestation, and from when it is revoked.
    /// @param uid The uid.
    /// @return exists Whether there is an attestation under `uid`.
    /// @return revokedAt Block time from which it is revoked (see `Attestation.revokedAt`), or 0.
    function revocationOf(bytes32 uid) external view returns (bool exists, uint64 revokedAt);

    /// @notice Revoke one attestation by consortium vote. Only the OfficeRegistry may call it,
    /// when it executes a `RevokeAttestation` proposal.
    /// @param uid The attestation's uid.
    function revokeByConsortium(bytes32 uid) external;

    /// @notice Revoke, by consortium vote, every attestation of an office issued from
    /// `issuedSince` up to now. Only the OfficeRegistry may call it, when it executes a
    /// `RevokeAttestationsIssuedSince` proposal.
    /// @param issuerOffice ST.3 code of the issuing office.
    /// @param issuedSince Unix time from which its attestations are revoked.
    function revokeIssuedSince(bytes2 issuerOffice, uint64 issuedSince) external;
}
