/** The pieces of page the pages share: status text, labelled inputs, tables, confirmations. */
import type { ComponentChildren, InputHTMLAttributes } from 'preact';
import { useState } from 'preact/hooks';

/** Status text read out by screen readers when it changes. */
export function Status(props: { text: string; error?: boolean }) {
  return (
    <p class={props.error ? 'status error' : 'status'} role={props.error ? 'alert' : 'status'}>
      {props.text}
    </p>
  );
}

/** An input and its label: the id the label's `for` names is written once, here. */
export function Field({
  label,
  ...input
}: { label: ComponentChildren; id: string } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <>
      <label for={input.id}>{label}</label>
      <input {...input} />
    </>
  );
}

/** A data table: a caption for screen readers, one row of column headers, then the rows. */
export function Table(props: { caption: string; columns: string[]; children: ComponentChildren }) {
  return (
    <table>
      <caption class="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

/**
 * A destructive action asked twice: the first button only shows the confirm button and a button
 * that keeps things as they are.
 */
export function Confirmed(props: {
  label: string;
  confirm: string;
  keep: string;
  onConfirm: () => Promise<unknown>;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <>
      <button
        type="button"
        class="danger"
        onClick={() => void props.onConfirm().finally(() => setAsking(false))}
      >
        {props.confirm}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        {props.keep}
      </button>
    </>
  );
}
