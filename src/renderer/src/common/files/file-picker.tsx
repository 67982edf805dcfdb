// The buttons that pick files to send: "Attach" (any files, several at once) and, on a phone, "Camera" (a photo
// or video taken now). Each opens its own <input type=file>, kept out of sight; what is picked goes to onFiles.
import { useRef } from 'preact/hooks';

function Picker({
  id,
  text,
  label,
  accept,
  capture,
  disabled,
  onFiles,
}: {
  id: string;
  text: string;
  label: string;
  accept?: string;
  capture?: 'user' | 'environment';
  disabled: boolean;
  onFiles: (files: File[]) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <input
        ref={input}
        id={id}
        data-testid={id}
        type="file"
        multiple
        class="sr-only"
        tabIndex={-1}
        aria-hidden="true"
        accept={accept}
        {...(capture ? { capture } : {})}
        disabled={disabled}
        onChange={(e) => {
          const el = e.currentTarget as HTMLInputElement;
          const files = el.files ? [...el.files] : [];
          el.value = ''; // the same file may be picked again
          if (files.length) onFiles(files);
        }}
      />
      <button type="button" data-testid={`${id}-button`} aria-label={label} disabled={disabled} onClick={() => input.current?.click()}>
        {text}
      </button>
    </>
  );
}

export function FilePicker({ disabled, camera, onFiles }: { disabled: boolean; camera: boolean; onFiles: (files: File[]) => void }) {
  return (
    <span class="file-picker inline-form" data-testid="file-picker">
      <Picker id="file-attach" text="Attach" label="Attach files to send" disabled={disabled} onFiles={onFiles} />
      {camera ? (
        <Picker
          id="file-camera"
          text="Camera"
          label="Camera: take a photo or video to send"
          accept="image/*,video/*"
          capture="environment"
          disabled={disabled}
          onFiles={onFiles}
        />
      ) : null}
    </span>
  );
}
