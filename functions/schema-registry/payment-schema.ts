/** The tutorial's payment as an Avro schema: register it under `payment-done-value` (README "Schema registries"). */
export const PAYMENT_AVRO_SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Payment',
  fields: [
    { name: 'user', type: 'string' },
    { name: 'amount', type: 'int' },
  ],
});

export interface Payment {
  user: string;
  amount: number;
}
