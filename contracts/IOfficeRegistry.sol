// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IOfficeRegistry — what other ipchain contracts ask the consortium registry.
interface IOfficeRegistry {
    /// @notice The office a signer key belongs to, and whether it may write now.
    function officeOf(address signer) external view returns (bytes2 code, bool active);

    /// @notice The definition of an approved attestation schema ("" when not approved).
    function schemaDefinition(bytes32 schemaUid) external view returns (string memory);
}
