console.log('headless')
