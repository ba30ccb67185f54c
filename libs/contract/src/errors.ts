/** A message or key that does not follow the contract. The message says what and where. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
}
