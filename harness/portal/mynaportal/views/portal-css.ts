/** A little CSS, so the screens read like the guide's: one column, buttons that look like buttons. */
export const kPortalCss = `
body { font-family: "Hiragino Kaku Gothic ProN", "Noto Sans JP", Meiryo, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
.site-header { display: flex; gap: 1.5rem; align-items: center; padding: 0.6rem 1.2rem; background: #fff; border-bottom: 3px solid #d7003a; }
.site-header nav { flex: 1; color: #555; font-size: 0.9rem; }
.brand { margin: 0; font-weight: bold; }
.brand a { color: #d7003a; text-decoration: none; }
.mock-label { font-size: 0.75rem; color: #666; font-weight: normal; margin-left: 0.5rem; }
main { max-width: 56rem; margin: 1.5rem auto; background: #fff; padding: 1.5rem 2rem; }
h1 { font-size: 1.4rem; border-left: 6px solid #d7003a; padding-left: 0.6rem; }
.screen-id { text-align: right; color: #777; font-size: 0.8rem; }
.actions { display: flex; gap: 1rem; margin-top: 1.5rem; }
.button, button { display: inline-block; padding: 0.55rem 1.4rem; border: 1px solid #888; border-radius: 4px; background: #fff; color: #222; text-decoration: none; font-size: 1rem; cursor: pointer; }
.primary { background: #d7003a; border-color: #d7003a; color: #fff; }
.error { color: #c00; }
.field-error { color: #c00; margin: 0.2rem 0 0; font-size: 0.9rem; }
.status { color: #225; min-height: 1.4em; }
.login-methods { display: flex; gap: 1.5rem; flex-wrap: wrap; }
.login-method { flex: 1; min-width: 18rem; border: 1px solid #ddd; padding: 1rem; }
.qr-panel img { image-rendering: pixelated; border: 1px solid #ccc; }
table.form { border-collapse: collapse; width: 100%; }
table.form th, table.form td { border: 1px solid #ddd; padding: 0.6rem; text-align: left; vertical-align: top; }
table.form th { background: #f0f2f5; width: 30%; font-weight: normal; }
.required { color: #fff; background: #d7003a; font-size: 0.75rem; padding: 0 0.3rem; margin-left: 0.4rem; }
.menu-header dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
.header-logout { margin: 0; }
`;
