import { useState, type FormEvent } from 'react';
import type { ItemInput } from '../api/client';
import { ApiError } from '../api/client';

// The API's limits, repeated here so a person learns them before submitting.
export const MAX_NAME = 100;
export const MAX_DESCRIPTION = 1000;

export function ItemForm({ onCreate }: { onCreate: (input: ItemInput) => Promise<void> }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});

  const blank = name.trim() === '';

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (blank || saving) return;
    setSaving(true);
    setError(null);
    setFields({});
    try {
      await onCreate({ name: name.trim(), description: description.trim() });
      setName('');
      setDescription('');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      if (err instanceof ApiError && err.fields) setFields(err.fields);
    } finally {
      setSaving(false);
    }
  }

  return (
    <form className="item-form" onSubmit={submit} noValidate>
      <label>
        <span>Name</span>
        <input
          name="name"
          value={name}
          maxLength={MAX_NAME}
          placeholder="e.g. Rotate the API keys"
          aria-invalid={fields.name ? true : undefined}
          onChange={(e) => setName(e.target.value)}
        />
        {fields.name && <small className="field-error">Name {fields.name}</small>}
      </label>
      <label>
        <span>Description</span>
        <input
          name="description"
          value={description}
          maxLength={MAX_DESCRIPTION}
          placeholder="Optional"
          aria-invalid={fields.description ? true : undefined}
          onChange={(e) => setDescription(e.target.value)}
        />
        {fields.description && <small className="field-error">Description {fields.description}</small>}
      </label>
      <button type="submit" disabled={blank || saving}>
        {saving ? 'Adding…' : 'Add item'}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
